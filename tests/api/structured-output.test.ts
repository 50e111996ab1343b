// Structured output on /v1: response_format json_object / json_schema constrains the real engine's
// random-weight model to parseable JSON that fits the schema; the official client's
// chat.completions.parse with a zod schema works; bad schemas get a 400 naming the field.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startApiServer, type RunningApiServer } from '../../electron/api/api-server';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { startEngine } from '../helpers/engine';
import { errorOf, KEY, postJson, writeLongContextPair } from './api-helpers';

const MODEL = 'firellava-13b';
/** The grammar counts code points; random weights also emit stray UTF-8 bytes, shown as U+FFFD. */
const codePoints = (s: string): number => [...s.replace(/\uFFFD/g, '')].length;

describe('structured output on /v1', () => {
  let engine: LocalEngine;
  let server: RunningApiServer;
  let tmp: string;
  const port = (): number => server.port;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-json-'));
    engine = startEngine();
    server = await startApiServer('127.0.0.1', 0, { engine, attachments: createAttachmentStore(path.join(tmp, 'data')), apiKey: () => KEY, maxPending: 4 });
    const loaded = await engine.load(await writeLongContextPair(path.join(tmp, 'model')));
    expect(loaded.ok).toBe(true);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await engine?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const schema = {
    type: 'object',
    properties: {
      title: { type: 'string', maxLength: 16 },
      color: { type: 'string', enum: ['red', 'green', 'blue'] },
      inStock: { type: 'boolean' },
      tags: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 },
    },
    required: ['title', 'color', 'inStock', 'tags'],
    additionalProperties: false,
  };

  it('100 random-weight chat generations (temperature 1, seeds 1-100) all parse and fit the schema', async () => {
    let finishedLength = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = await postJson(port(), '/v1/chat/completions', {
        model: MODEL,
        messages: [{ role: 'user', content: 'Describe a product as JSON.' }],
        temperature: 1,
        top_k: 0,
        seed,
        max_tokens: 400,
        response_format: { type: 'json_schema', json_schema: { name: 'product', schema, strict: true } },
      });
      expect(r.status, r.body).toBe(200);
      const body = JSON.parse(r.body) as { choices: { message: { content: string }; finish_reason: string }[] };
      if (body.choices[0]!.finish_reason === 'length') finishedLength++;
      const value = JSON.parse(body.choices[0]!.message.content) as { title: string; color: string; inStock: boolean; tags: string[] };
      expect(Object.keys(value).sort()).toEqual(['color', 'inStock', 'tags', 'title']);
      expect(codePoints(value.title)).toBeLessThanOrEqual(16);
      expect(['red', 'green', 'blue']).toContain(value.color);
      expect(typeof value.inStock).toBe('boolean');
      expect(value.tags.length).toBeLessThanOrEqual(3);
      for (const tag of value.tags) expect(codePoints(tag)).toBeLessThanOrEqual(8);
    }
    expect(finishedLength).toBe(0);
  }, 300_000);

  it('json_object on chat and completions gives a JSON object; free text does not parse', async () => {
    for (const seed of [1, 2, 3]) {
      const chat = await postJson(port(), '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'JSON please' }], temperature: 1, seed, max_tokens: 300, response_format: { type: 'json_object' } });
      expect(chat.status, chat.body).toBe(200);
      const choice = (JSON.parse(chat.body) as { choices: { message: { content: string }; finish_reason: string }[] }).choices[0]!;
      // json_object bounds no string: random weights may run one to max_tokens (and finish_reason
      // is not exact yet, issue #17 item 6), so only the start is certain here.
      expect(choice.message.content.trimStart().startsWith('{')).toBe(true);
    }
    const completion = await postJson(port(), '/v1/completions', { model: MODEL, prompt: 'USER: a product as JSON\nASSISTANT:', temperature: 1, seed: 4, max_tokens: 300, response_format: { type: 'json_schema', json_schema: { name: 'p', schema } } });
    expect(completion.status, completion.body).toBe(200);
    const text = (JSON.parse(completion.body) as { choices: { text: string }[] }).choices[0]!.text;
    expect(Object.keys(JSON.parse(text) as object).sort()).toEqual(['color', 'inStock', 'tags', 'title']);
    const free = await postJson(port(), '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'JSON please' }], temperature: 1, seed: 2, max_tokens: 40, response_format: { type: 'text' } });
    expect(() => JSON.parse((JSON.parse(free.body) as { choices: { message: { content: string } }[] }).choices[0]!.message.content)).toThrow();
  }, 120_000);

  it('the official client: chat.completions.parse with a zod schema returns the parsed object', async () => {
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port()}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
    const Product = z.object({ title: z.string().max(16), color: z.enum(['red', 'green', 'blue']), inStock: z.boolean() });
    for (const seed of [7, 8]) {
      const completion = await client.chat.completions.parse({
        model: MODEL,
        messages: [{ role: 'user', content: 'Describe a product.' }],
        temperature: 1,
        seed,
        max_tokens: 300,
        response_format: zodResponseFormat(Product, 'product'),
      });
      const parsed = completion.choices[0]!.message.parsed;
      expect(parsed).not.toBeNull();
      expect(['red', 'green', 'blue']).toContain(parsed!.color);
      expect(completion.system_fingerprint ?? 'absent').toEqual(expect.any(String));
      expect(completion._request_id).toMatch(/^req-/);
    }
  }, 120_000);

  it('refuses bad response_format values with a 400 naming the field', async () => {
    const send = (response_format: unknown) => postJson(port(), '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], response_format });
    const cases: [unknown, string][] = [
      [{ type: 'yaml' }, 'response_format'],
      [{ type: 'json_schema' }, 'response_format'],
      [{ type: 'json_schema', json_schema: { name: 'has space', schema } }, 'response_format'],
      [{ type: 'json_schema', json_schema: { name: 'x', schema: 'not a schema' } }, 'response_format'],
      [{ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'thing' } } }, 'response_format.json_schema.schema.type'],
      [{ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 7 } } } } }, 'response_format.json_schema.schema.properties.a.type'],
      [{ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', required: 'a' } } }, 'response_format.json_schema.schema.required'],
    ];
    for (const [format, param] of cases) {
      const r = await send(format);
      expect(r.status, JSON.stringify(format)).toBe(400);
      expect(errorOf(r).type).toBe('invalid_request_error');
      expect(errorOf(r).param ?? '').toMatch(new RegExp(`^${param.replace(/[.[\]]/g, '\\$&')}`));
    }
  });
});
