// A conversation answered by a remote engine, end to end through the backend's contract: the
// "remote" is this app's own OpenAI-compatible API (startApiServer) on the real local engine.
// Streaming with an image, stop, a wrong key then the right one, an unreachable server, and an
// engine removed under a conversation.
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type RunningApiServer } from '../../electron/api/api-server';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import { createBackend, type Backend } from '../../electron/backend/backend';
import type { LocalEngine } from '../../electron/engine/engine-host';
import type { ChatEvent } from '../../electron/shared/contracts/conversations';
import { KEY, writeLongContextPair } from '../api/api-helpers';
import { startEngine } from '../helpers/engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';

const ctx = { transport: 'http' as const };

describe('conversations answered by a remote engine', () => {
  let fx: Fixtures;
  let local: LocalEngine;
  let server: RunningApiServer;
  let backend: Backend;
  let tmp: string;
  let apiImages: string;

  beforeAll(async () => {
    fx = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-remote-chat-'));
    local = startEngine();
    // Long context: a 3000-token answer runs long enough for a stop to land mid-stream.
    const loaded = await local.load(await writeLongContextPair(path.join(tmp, 'model')));
    if (!loaded.ok) throw new Error(loaded.error.message);
    apiImages = path.join(tmp, 'api-data');
    server = await startApiServer('127.0.0.1', 0, { engine: local, attachments: createAttachmentStore(apiImages), apiKey: KEY });
    // Headless: no keychain, so keys stay in memory.
    backend = createBackend({ dataDir: path.join(tmp, 'app'), engine: local, app: { name: 'FireLLaVA', version: '0.0.0-test' } });
  });

  afterAll(async () => {
    await backend?.close();
    await server?.close();
    await local?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const h = () => backend.handlers;
  const send = async (input: { conversationId: string; text: string; attachments?: { id: string; name: string }[] }, onEvent?: (e: ChatEvent) => void) => {
    const events: ChatEvent[] = [];
    await h()['messages.send']({ parentId: undefined, attachments: [], ...input }, (e) => (events.push(e), onEvent?.(e)), new AbortController().signal, ctx);
    const finished = events.find((e) => e.type === 'finished');
    if (finished?.type !== 'finished') throw new Error('no finished event');
    return { events, answer: finished.message, deltas: events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('') };
  };
  const newConversation = async (engineId: string | null, maxTokens = 12) => {
    const c = await h()['conversations.create']({ title: 'Remote' }, ctx);
    const view = await h()['conversations.settings']({ id: c.id, params: { maxTokens, temperature: 0, seed: 7 }, engineId }, ctx);
    return view.conversation;
  };

  it('streams an answer about an image from the remote engine, labelled as remote', async () => {
    const remote = await h()['engines.addRemote']({ name: 'Loopback vLLM', baseUrl: server.baseUrl, model: 'firellava-13b', key: KEY, sendTopK: true }, ctx);
    expect(remote).toMatchObject({ kind: 'remote', keySaved: true });
    const list = await h()['engines.list']({}, ctx);
    expect(list).toMatchObject({ keyStorage: 'memory', defaultEngineId: 'local' });
    expect(JSON.stringify(list)).not.toContain(KEY);
    expect(await h()['engines.test']({ id: remote.id }, ctx)).toMatchObject({ ok: true, message: expect.stringMatching(/^Connected: the key was accepted and it serves /) });

    const conversation = await newConversation(remote.id);
    expect(conversation.engineId).toBe(remote.id);
    const image = await backend.attachments.add(readFileSync(fx.images.png32));
    const { events, answer, deltas } = await send({ conversationId: conversation.id, text: 'What is in this picture?', attachments: [{ id: image.id, name: 'shot.png' }] });
    expect(answer.status).toBe('complete');
    expect(answer.engine).toEqual({ id: remote.id, kind: 'remote', name: 'Loopback vLLM', model: 'firellava-13b' });
    expect(answer.text.length).toBeGreaterThan(0);
    expect(deltas).toBe(answer.text);
    expect(events.filter((e) => e.type === 'delta').length).toBeGreaterThan(1);
    expect(events).toContainEqual({ type: 'image', attachmentId: image.id, ignoredAttachmentIds: [] });
    // The image went over HTTP as a data: URL and was stored by the remote side.
    expect(readdirSync(path.join(apiImages, 'attachments')).filter((f) => /^[a-f0-9]{64}\.png$/.test(f))).toHaveLength(1);
    // The same question to the local engine gives the same words: same model, same prompt format.
    const localConversation = await newConversation('local');
    const again = await send({ conversationId: localConversation.id, text: 'What is in this picture?', attachments: [{ id: image.id, name: 'shot.png' }] });
    expect(again.answer.engine).toMatchObject({ id: 'local', kind: 'local' });
    expect(again.answer.text).toBe(answer.text);
  });

  it('stops a remote answer mid-stream; the next one starts at once', async () => {
    const remote = (await h()['engines.list']({}, ctx)).engines.find((e) => e.kind === 'remote')!;
    const conversation = await newConversation(remote.id, 3000);
    let deltas = 0;
    const started = performance.now();
    const { answer } = await send({ conversationId: conversation.id, text: 'Tell me a very long story.' }, (e) => {
      if (e.type === 'delta' && ++deltas === 1) void h()['messages.stop']({ conversationId: conversation.id }, ctx);
    });
    expect(answer).toMatchObject({ status: 'stopped', engine: { kind: 'remote' } });
    expect(answer.text.length).toBeGreaterThan(0);
    expect(answer.stats?.completionTokens ?? 0).toBeLessThan(3000);
    await h()['conversations.settings']({ id: conversation.id, params: { maxTokens: 4 } }, ctx);
    expect((await send({ conversationId: conversation.id, text: 'Short answer.' })).answer.status).toBe('complete');
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a wrong key is a clear error on that answer; with the key fixed the conversation goes on', async () => {
    const remote = await h()['engines.addRemote']({ name: 'Wrong key', baseUrl: server.baseUrl, model: 'firellava-13b', key: 'wrong-key-0123456789abcdef', sendTopK: true }, ctx);
    const test = await h()['engines.test']({ id: remote.id }, ctx);
    expect(test).toEqual({ ok: false, message: expect.stringMatching(/refused the request \(401\): Incorrect API key/), models: [] });
    const conversation = await newConversation(remote.id);
    const failed = await send({ conversationId: conversation.id, text: 'Hello?' });
    expect(failed.answer).toMatchObject({ status: 'error', error: expect.stringMatching(/refused the request \(401\): Incorrect API key/), engine: { kind: 'remote', name: 'Wrong key' } });

    expect(await h()['engines.updateRemote']({ id: remote.id, key: KEY }, ctx)).toMatchObject({ keySaved: true });
    const next = await send({ conversationId: conversation.id, text: 'Hello again?' });
    expect(next.answer.status).toBe('complete');
    const view = await h()['conversations.get']({ id: conversation.id }, ctx);
    expect(view.messages.map((m) => [m.role, m.status])).toEqual([['user', 'complete'], ['assistant', 'error'], ['user', 'complete'], ['assistant', 'complete']]);
  });

  it('an unreachable server is a clear error, and the conversation can switch engines and go on', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const remote = await h()['engines.addRemote']({ name: 'Gone', baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm', key: 'k', sendTopK: true }, ctx);
    const conversation = await newConversation(remote.id);
    const failed = await send({ conversationId: conversation.id, text: 'Anyone there?' });
    expect(failed.answer).toMatchObject({ status: 'error', error: expect.stringMatching(/at 127\.0\.0\.1:\d+ failed: connection refused/) });
    // A port fetch refuses outright (reserved for another protocol) says so instead of "bad port".
    const blocked = await h()['engines.addRemote']({ name: 'Port 6000', baseUrl: 'http://127.0.0.1:6000/v1', model: 'm', sendTopK: true }, ctx);
    await h()['conversations.settings']({ id: conversation.id, engineId: blocked.id }, ctx);
    const refused = await send({ conversationId: conversation.id, text: 'Anyone?' });
    expect(refused.answer.error).toMatch(/port is reserved for another protocol.*run the server on another port/);
    await h()['conversations.settings']({ id: conversation.id, engineId: null }, ctx);
    expect((await send({ conversationId: conversation.id, text: 'And now?' })).answer).toMatchObject({ status: 'complete', engine: { kind: 'local' } });
  });

  it('a conversation whose engine was removed falls back to the default with a notice, keeping every message', async () => {
    const remote = await h()['engines.addRemote']({ name: 'Short-lived', baseUrl: server.baseUrl, model: 'firellava-13b', key: KEY, sendTopK: true }, ctx);
    const conversation = await newConversation(remote.id);
    expect((await send({ conversationId: conversation.id, text: 'First question.' })).answer.engine?.kind).toBe('remote');
    await h()['engines.removeRemote']({ id: remote.id }, ctx);
    await expect(h()['conversations.settings']({ id: conversation.id, engineId: remote.id, system: 'Changed?' }, ctx)).rejects.toThrow(/does not exist/);
    expect((await h()['conversations.get']({ id: conversation.id }, ctx)).conversation.system).toBe('');

    const { events, answer } = await send({ conversationId: conversation.id, text: 'Second question.' });
    expect(events).toContainEqual({ type: 'notice', text: expect.stringMatching(/was removed; it now uses the default engine \(This computer\)/) });
    expect(answer).toMatchObject({ status: 'complete', engine: { id: 'local', kind: 'local' } });
    const view = await h()['conversations.get']({ id: conversation.id }, ctx);
    expect(view.conversation.engineId).toBeNull();
    expect(view.messages.map((m) => [m.role, m.engine?.kind ?? null])).toEqual([['user', null], ['assistant', 'remote'], ['user', null], ['assistant', 'local']]);
    // The engine each answer came from survives export and import.
    const exported = await h()['conversations.export']({ id: conversation.id, format: 'json' }, ctx);
    const imported = await h()['conversations.import']({ data: new Uint8Array(exported.data) }, ctx);
    expect((await h()['conversations.get']({ id: imported.id }, ctx)).messages.map((m) => m.engine?.name ?? null)).toEqual([null, 'Short-lived', null, 'This computer']);
  });
  it('a server without authentication: added without a key, no Authorization header is sent', async () => {
    // Stands for a local vLLM started without --api-key: it forwards to the real API, adding the key itself.
    const seen: (string | undefined)[] = [];
    const open = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      const upstream = http.request(
        `${server.baseUrl}${req.url!.replace(/^\/v1/, '')}`,
        { method: req.method, headers: { ...req.headers, host: new URL(server.baseUrl).host, authorization: `Bearer ${KEY}` } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => open.listen(0, '127.0.0.1', resolve));
    try {
      const baseUrl = `http://127.0.0.1:${(open.address() as AddressInfo).port}/v1`;
      const remote = await h()['engines.addRemote']({ name: 'Open vLLM', baseUrl, model: 'firellava-13b', sendTopK: true }, ctx);
      expect(remote).toMatchObject({ keySaved: false, keyless: true });
      expect(await h()['engines.test']({ id: remote.id }, ctx)).toMatchObject({ ok: true, message: expect.stringMatching(/^Connected: it serves /) });
      const { answer } = await send({ conversationId: (await newConversation(remote.id)).id, text: 'Hello' });
      expect(answer.status).toBe('complete');
      expect(answer.text.length).toBeGreaterThan(0);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(seen.every((a) => a === undefined)).toBe(true);
      // A key set later is sent from then on.
      await h()['engines.updateRemote']({ id: remote.id, key: 'later-key-0123456789' }, ctx);
      expect((await h()['engines.list']({}, ctx)).engines.find((e) => e.id === remote.id)).toMatchObject({ keySaved: true, keyless: false });
      await send({ conversationId: (await newConversation(remote.id)).id, text: 'Hello again' });
      expect(seen.at(-1)).toBe('Bearer later-key-0123456789');
    } finally {
      await new Promise((resolve) => open.close(resolve));
      open.closeAllConnections();
    }
  });
});
