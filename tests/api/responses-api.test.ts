// POST /v1/responses with the official client on the real engine: create (plain, with an image,
// streamed), responses.stream, structured text.format, and the refusals in OpenAI's error shape.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type RunningApiServer } from '../../electron/api/api-server';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { startEngine } from '../helpers/engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { dataUrl, errorOf, KEY, postJson, writeLongContextPair } from './api-helpers';

const MODEL = 'firellava-13b';

describe('POST /v1/responses', () => {
  let fixtures: Fixtures;
  let engine: LocalEngine;
  let server: RunningApiServer;
  let tmp: string;
  let client: OpenAI;
  const port = (): number => server.port;

  beforeAll(async () => {
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-resp-'));
    engine = startEngine();
    server = await startApiServer('127.0.0.1', 0, { engine, attachments: createAttachmentStore(path.join(tmp, 'data')), apiKey: () => KEY, maxPending: 4 });
    const loaded = await engine.load(await writeLongContextPair(path.join(tmp, 'model')));
    expect(loaded.ok).toBe(true);
    client = new OpenAI({ baseURL: `http://127.0.0.1:${port()}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await engine?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('responses.create with a string input and with an image item gives one assistant message and usage', async () => {
    const plain = await client.responses.create({ model: MODEL, input: 'Write a title for a red mug.', instructions: 'Be brief.', max_output_tokens: 16, temperature: 0 });
    expect(plain.object).toBe('response');
    expect(plain.id).toMatch(/^resp_/);
    expect(plain.output).toHaveLength(1);
    expect(plain.output[0]).toMatchObject({ type: 'message', role: 'assistant' });
    expect(plain.output_text.length).toBeGreaterThan(0);
    expect(plain.usage!.output_tokens).toBeGreaterThan(0);
    expect(plain.usage!.total_tokens).toBe(plain.usage!.input_tokens + plain.usage!.output_tokens);
    expect(plain._request_id).toMatch(/^req-/);

    const withImage = await client.responses.create({
      model: MODEL,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is in this picture?' }, { type: 'input_image', image_url: dataUrl(fixtures.images.png32), detail: 'auto' }] }],
      max_output_tokens: 16,
      temperature: 0,
    });
    expect(withImage.output_text.length).toBeGreaterThan(0);
    // The image reached the model: its embedding costs prompt tokens the same text alone does not.
    const sameText = await client.responses.create({ model: MODEL, input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is in this picture?' }] }], max_output_tokens: 16, temperature: 0 });
    expect(withImage.usage!.input_tokens).toBeGreaterThan(sameText.usage!.input_tokens);
  });

  it('stream: true sends the documented event sequence, and responses.stream assembles the same text', async () => {
    const events = await client.responses.create({ model: MODEL, input: 'Say something.', max_output_tokens: 12, temperature: 0, stream: true });
    const types: string[] = [];
    let deltas = '';
    let done = '';
    let completed: OpenAI.Responses.Response | null = null;
    for await (const event of events) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
      if (event.type === 'response.output_text.done') done = event.text;
      if (event.type === 'response.completed' || event.type === 'response.incomplete') completed = event.response;
    }
    const unique = types.filter((t, i) => t !== types[i - 1]);
    expect(unique[0]).toBe('response.created');
    expect(unique.slice(0, 5)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.output_text.delta']);
    expect(unique.slice(-4, -1)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done']);
    expect(['response.completed', 'response.incomplete']).toContain(unique.at(-1));
    expect(done).toBe(deltas);
    expect(completed!.usage!.output_tokens).toBeGreaterThan(0);

    const stream = client.responses.stream({ model: MODEL, input: 'Say something.', max_output_tokens: 12, temperature: 0 });
    let streamed = '';
    stream.on('response.output_text.delta', (e) => (streamed += e.delta));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(streamed);
    expect(final.output_text).toBe(deltas);
  });

  it('text.format json_schema gives JSON that fits the schema', async () => {
    const schema = { type: 'object', properties: { color: { type: 'string', enum: ['red', 'blue'] }, ok: { type: 'boolean' } }, required: ['color', 'ok'], additionalProperties: false };
    for (const seed of [1, 2, 3]) {
      const r = await postJson(port(), '/v1/responses', { model: MODEL, input: 'JSON please', temperature: 1, seed, max_output_tokens: 200, text: { format: { type: 'json_schema', name: 'thing', schema, strict: true } } });
      expect(r.status, r.body).toBe(200);
      const body = JSON.parse(r.body) as { output: { content: { text: string }[] }[] };
      const value = JSON.parse(body.output[0]!.content[0]!.text) as { color: string; ok: boolean };
      expect(['red', 'blue']).toContain(value.color);
      expect(typeof value.ok).toBe('boolean');
    }
  });

  it('refuses what it cannot honour with a 400 in OpenAI\'s shape', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ input: 'hi', previous_response_id: 'resp_123' }, 'previous_response_id'],
      [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'bogus' }] }] }, 'input[0].content[0].detail'],
      [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input[0].content[0].type'],
      [{ input: [{ type: 'function_call_output', output: 'x' }] }, 'input[0].type'],
      [{ input: 'hi', text: { format: { type: 'json_schema', name: 'x', schema: { type: 'thing' } } } }, 'text.format.json_schema.schema.type'],
      [{ input: 'hi', max_output_tokens: 0 }, 'max_output_tokens'],
    ];
    for (const [body, param] of cases) {
      const r = await postJson(port(), '/v1/responses', { model: MODEL, ...body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(r)).toMatchObject({ type: 'invalid_request_error', param });
    }
    const chatDetail = await postJson(port(), '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl(fixtures.images.png32), detail: 'bogus' } }] }] });
    expect(chatDetail.status).toBe(400);
    // The content union of the chat schema names only the message's content.
    expect(errorOf(chatDetail).param).toMatch(/^messages\[0\]\.content/);
  });

  it('conformance: model aliases resolve, created is the file time, x-request-id everywhere, no null fingerprint, prompt arrays refused', async () => {
    const list = await client.models.list();
    expect(list.data[0]!.created).toBeGreaterThan(1_600_000_000);
    const alias = await client.models.retrieve('firellava-13b');
    expect(alias).toMatchObject({ id: 'firellava-13b', object: 'model', created: list.data[0]!.created });
    const auth = { Authorization: `Bearer ${KEY}` };
    for (const r of [
      await postJson(port(), '/v1/nope', {}),
      await postJson(port(), '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
      await postJson(port(), '/v1/chat/completions', {}, { Authorization: 'Bearer wrong' }),
    ]) expect(r.headers['x-request-id']).toMatch(/^req-[0-9a-f]{24}$/);
    const chat = await postJson(port(), '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, auth);
    expect(JSON.parse(chat.body)).not.toHaveProperty('system_fingerprint');
    const two = await postJson(port(), '/v1/completions', { model: MODEL, prompt: ['a', 'b'], max_tokens: 2 });
    expect(two.status).toBe(400);
    expect(errorOf(two).param).toBe('prompt');
    const one = await postJson(port(), '/v1/completions', { model: MODEL, prompt: ['a'], max_tokens: 2 });
    expect(one.status).toBe(200);
  });
});
