// Against `firellava serve` (the built CLI), as the done-criterion asks: the official
// client's responses.create with an image (streamed too) and chat.completions.parse with zod.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { getFixtures } from '../helpers/fixtures';
import { dataUrl, ensureBuilt, KEY, startServe, waitForModel, writeLongContextPair, type Served } from './api-helpers';

describe('firellava serve: /v1/responses and structured output', () => {
  let served: Served;
  let client: OpenAI;
  let model: string;
  let tmp: string;
  let image: string;

  beforeAll(async () => {
    ensureBuilt();
    const fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-resp-serve-'));
    served = await startServe(await writeLongContextPair(path.join(tmp, 'model')), path.join(tmp, 'data'));
    model = await waitForModel(served.origin);
    client = new OpenAI({ baseURL: `${served.origin}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
    image = dataUrl(fixtures.images.png32);
  }, 60_000);

  afterAll(async () => {
    await served?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

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
