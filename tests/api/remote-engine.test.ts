// The app's RemoteEngine pointed at this app's own OpenAI-compatible API on loopback: the same
// answer as the local engine, streamed, with an image sent as a data: URL; stop and bad keys.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type RunningApiServer } from '../../electron/api/api-server';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import type { GenerateRequest } from '../../electron/engine/engine';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { RemoteEngine } from '../../electron/engine/remote-engine';
import type { GenerateEvent } from '../../electron/shared/types';
import { GREEDY, startEngine } from '../helpers/engine';
import { getFixtures } from '../helpers/fixtures';
import { KEY, writeLongContextPair } from './api-helpers';

describe('RemoteEngine against the local API (loopback)', () => {
  let local: LocalEngine;
  let server: RunningApiServer;
  let attachments: AttachmentStore;
  let remote: RemoteEngine;
  let tmp: string;
  let image: { id: string; path: string };

  beforeAll(async () => {
    const fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-remote-'));
    local = startEngine();
    const loaded = await local.load(await writeLongContextPair(path.join(tmp, 'model')));
    if (!loaded.ok) throw new Error(loaded.error.message);
    attachments = createAttachmentStore(path.join(tmp, 'data'));
    server = await startApiServer('127.0.0.1', 0, { engine: local, attachments, apiKey: KEY });
    remote = new RemoteEngine({ baseUrl: server.baseUrl, apiKey: KEY, model: 'firellava-13b' });
    // Stored the way the chat UI stores a pasted image.
    const info = await attachments.add(readFileSync(fixtures.images.png32));
    image = { id: info.id, path: await attachments.pathOf(info.id) };
  });

  afterAll(async () => {
    await server?.close();
    await local?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const ask = (text: string, params: Partial<typeof GREEDY> = {}): GenerateRequest => ({
    conversationId: 'remote-1',
    system: 'You are a careful visual assistant.',
    turns: [{ role: 'user', text, images: [image] }],
    params: { ...GREEDY, ...params },
  });

  it('connects (load checks the endpoint and key) and reports itself as remote', async () => {
    const loaded = await remote.load();
    expect(loaded.ok).toBe(true);
    expect(remote.status()).toMatchObject({ state: 'ready', device: { backend: 'remote' }, model: { name: 'firellava-13b' } });
    const wrong = new RemoteEngine({ baseUrl: server.baseUrl, apiKey: 'wrong-key-0123456789abcdef', model: 'firellava-13b' });
    const refused = await wrong.load();
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/401.*Incorrect API key/) });
  });

  it('streams an answer about an image, identical to the local engine\'s', async () => {
    const expected = await local.generate(ask('What is in this picture?'), () => undefined);
    expect(expected.type).toBe('done');
    const events: GenerateEvent[] = [];
    const done = await remote.generate(ask('What is in this picture?'), (e) => events.push(e));
    expect(done.type).toBe('done');
    if (done.type !== 'done' || expected.type !== 'done') return;
    const deltas = events.filter((e) => e.type === 'delta').map((e) => (e as { text: string }).text);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(done.text);
    expect(done.text).toBe(expected.text);
    expect(events[0]).toEqual({ type: 'image', attachmentId: image.id, ignoredAttachmentIds: [] });
    expect(events.some((e) => e.type === 'phase' && e.phase === 'encoding-image')).toBe(true);
    expect(done.usage.promptTokens).toBe(expected.usage.promptTokens);
    expect(done.usage.completionTokens).toBeGreaterThan(0);
  });

  it('stops through its AbortSignal mid-answer, and the server is free for the next request at once', async () => {
    const controller = new AbortController();
    let deltas = 0;
    const started = performance.now();
    const stopped = await remote.generate(ask('Tell me a very long story.', { maxTokens: 3000 }), (e) => {
      if (e.type === 'delta' && ++deltas === 1) controller.abort();
    }, controller.signal);
    expect(stopped).toMatchObject({ type: 'done', finishReason: 'cancelled' });
    const next = await remote.generate(ask('Short answer.', { maxTokens: 4 }), () => undefined);
    expect(next.type).toBe('done');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('sends raw prompts to /completions with the image beside them', async () => {
    const request: GenerateRequest = { ...ask(''), rawPrompt: 'USER: <image>\nWhat is this?\nASSISTANT:', params: { ...GREEDY, maxTokens: 6 } };
    const expected = await local.generate(request, () => undefined);
    const done = await remote.generate(request, () => undefined);
    expect(done.type).toBe('done');
    if (done.type === 'done' && expected.type === 'done') {
      expect(done.text).toBe(expected.text);
      expect(done.usage.promptTokens).toBe(expected.usage.promptTokens);
    }
  });

  it('gives up on a server that accepts the request and never answers, saying so; a stop while waiting is a stop', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const stuck = new RemoteEngine({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: KEY, model: 'm', headersTimeoutMs: 300 });
      const started = performance.now();
      const timedOut = await stuck.generate(ask('Hello?'), () => undefined);
      expect(timedOut).toEqual({ type: 'error', error: { code: 'GENERATION_FAILED', message: `The remote engine at 127.0.0.1:${port} failed: no answer within 0.3 s` } });
      expect(performance.now() - started).toBeLessThan(3000);

      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const stopped = await new RemoteEngine({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: KEY, model: 'm' }).generate(ask('Hello?'), () => undefined, controller.signal);
      expect(stopped).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
