// Against `firellava serve` (the built CLI), as the done-criterion asks: the official
// client's responses.create with an image (streamed too) and chat.completions.parse with zod.
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startServedApi, type Served } from '../helpers/served-api';

describe('firellava serve: /v1/responses and structured output', () => {
  let served: Served, client: OpenAI, model: string, image: string;
  beforeAll(async () => void ({ served, client, model, image } = await startServedApi('firellava-api-resp-serve-')), 60_000);
  afterAll(() => served?.stop());

  it('responses.create with an image, plain and streamed', async () => {
    const input: OpenAI.Responses.ResponseInput = [{ role: 'user', content: [{ type: 'input_text', text: 'Describe this.' }, { type: 'input_image', image_url: image, detail: 'high' }] }];
    const r = await client.responses.create({ model, input, max_output_tokens: 16, temperature: 0 });
    expect(r.output_text.length).toBeGreaterThan(0);
    const stream = client.responses.stream({ model, input, max_output_tokens: 16, temperature: 0 });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(r.output_text);
  });

  it('chat.completions.parse with a zod schema', async () => {
    const Answer = z.object({ answer: z.enum(['yes', 'no']), confident: z.boolean() });
    const r = await client.chat.completions.parse({ model, messages: [{ role: 'user', content: 'Is it red?' }], temperature: 1, seed: 3, max_tokens: 100, response_format: zodResponseFormat(Answer, 'answer') });
    expect(['yes', 'no']).toContain(r.choices[0]!.message.parsed!.answer);
  });
});
