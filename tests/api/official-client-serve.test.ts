// Issue #17's done-criteria with the official `openai` client against `firellava serve`, for the
// cases the other serve tests do not cover: assistant prefill (chat and Responses), a leading
// greeting, and responses.create streamed with an image. Covered elsewhere: one image in two
// turns (openai-serve.test.ts), responses.create / responses.stream with an image and
// chat.completions.parse with zod (responses-serve.test.ts).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServedApi, type Served } from '../helpers/served-api';

const GREEDY = { temperature: 0, seed: 7 } as const;

describe('firellava serve with the official client: prefill and streamed Responses', () => {
  let served: Served, client: OpenAI, model: string, image: string;
  beforeAll(async () => void ({ served, client, model, image } = await startServedApi('firellava-api-client-')), 60_000);
  afterAll(() => served?.stop());

  const question = (): OpenAI.Chat.ChatCompletionUserMessageParam => ({
    role: 'user',
    content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: 'Describe this picture.' }],
  });
  const chat = async (messages: OpenAI.Chat.ChatCompletionMessageParam[], max_tokens: number): Promise<string> =>
    (await client.chat.completions.create({ model, messages, max_tokens, ...GREEDY })).choices[0]!.message.content!;

  it('chat: a last assistant message is continued, and only the new text comes back', async () => {
    const start = await chat([question()], 8);
    const whole = await chat([question()], 16);
    const rest = await chat([question(), { role: 'assistant', content: start }], 8);
    expect(start.length).toBeGreaterThan(0);
    // Greedy decoding: 8 tokens, then 8 more after them, are the 16-token answer.
    expect(start + rest).toBe(whole);
  });

  it('chat: a leading assistant greeting is accepted', async () => {
    const r = await client.chat.completions.create({ model, messages: [{ role: 'assistant', content: 'Hello! Send me a picture.' }, question()], max_tokens: 4, ...GREEDY });
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it('responses: a last assistant input item is continued the same way', async () => {
    const user: OpenAI.Responses.ResponseInputItem = { role: 'user', content: [{ type: 'input_image', image_url: image, detail: 'auto' }, { type: 'input_text', text: 'Describe this picture.' }] };
    const ask = async (input: OpenAI.Responses.ResponseInput, max_output_tokens: number) => (await client.responses.create({ model, input, max_output_tokens, temperature: 0 })).output_text;
    const start = await ask([user], 8);
    const rest = await ask([user, { role: 'assistant', content: start }], 8);
    expect(start + rest).toBe(await ask([user], 16));
  });

  it('responses.create with an image and stream: true: deltas add up to the plain answer', async () => {
    const input: OpenAI.Responses.ResponseInput = [{ role: 'user', content: [{ type: 'input_text', text: 'Describe this.' }, { type: 'input_image', image_url: image, detail: 'low' }] }];
    const plain = await client.responses.create({ model, input, max_output_tokens: 16, temperature: 0 });
    const events = await client.responses.create({ model, input, max_output_tokens: 16, temperature: 0, stream: true });
    let text = '';
    let completed: OpenAI.Responses.Response | null = null;
    for await (const event of events) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed' || event.type === 'response.incomplete') completed = event.response;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(text).toBe(plain.output_text);
    expect(completed!.usage!.input_tokens).toBe(plain.usage!.input_tokens);
  });
});
