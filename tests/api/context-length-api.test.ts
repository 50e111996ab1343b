// A prompt longer than the model's context (the tiny model has 512 tokens) gets OpenAI's
// context_length_exceeded 400 on /v1, streamed or not, instead of an empty 200.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type RunningApiServer } from '../../electron/api/api-server';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { startEngine } from '../helpers/engine';
import { getFixtures } from '../helpers/fixtures';
import { errorOf, KEY, postJson } from './api-helpers';

const MODEL = 'firellava-13b';
const longText = Array.from({ length: 3000 }, (_, i) => `word${i % 50}`).join(' ');

describe('context length on /v1', () => {
  let engine: LocalEngine;
  let server: RunningApiServer;
  let tmp: string;
  let client: OpenAI;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-ctx-'));
    engine = startEngine();
    server = await startApiServer('127.0.0.1', 0, { engine, attachments: createAttachmentStore(path.join(tmp, 'data')), apiKey: () => KEY, maxPending: 4 });
    expect((await engine.load((await getFixtures()).pair)).ok).toBe(true);
    client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await engine?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const expectContextError = (err: unknown, param: string): void => {
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('context_length_exceeded');
    expect(e.type).toBe('invalid_request_error');
    expect(e.param).toBe(param);
    expect(e.message).toMatch(/longer than the model's context \(512 tokens\)/);
  };

  it('answers 400 context_length_exceeded to a chat completion that does not fit, streamed or not', async () => {
    const messages = [{ role: 'user' as const, content: longText }];
    expectContextError(await client.chat.completions.create({ model: MODEL, messages, max_tokens: 8 }).catch((e: unknown) => e), 'messages');
    const streamed = await (async () => {
      const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 8, stream: true });
      for await (const _ of stream) void _;
      return 'no error';
    })().catch((e: unknown) => e);
    expectContextError(streamed, 'messages');
    // The engine still answers a prompt that fits.
    const ok = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    expect(ok.choices[0]!.finish_reason).toMatch(/stop|length/);
  }, 60_000);

  it('answers the same 400 on /v1/completions, naming the prompt', async () => {
    const r = await postJson(server.port, '/v1/completions', { model: MODEL, prompt: longText, max_tokens: 8 });
    expect(r.status, r.body).toBe(400);
    expect(errorOf(r)).toMatchObject({ code: 'context_length_exceeded', type: 'invalid_request_error', param: 'prompt' });
  }, 60_000);
});
