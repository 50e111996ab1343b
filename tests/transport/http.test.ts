import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { contract } from '../../electron/shared/contract';
import { raw, type RawResponse } from '../helpers/raw-http';
import { createDispatcher } from '../../electron/shared/dispatcher';
import type { GenerateEvent } from '../../electron/shared/types';
import { decodeWire, encodeWire } from '../../electron/shared/wire';
import { DEFAULT_MAX_BODY_BYTES, startHttpServer, type RunningServer } from '../../electron/server/http-server';
import type { ServerLimits } from '../../electron/server/http-io';
import { startApiServer } from '../../electron/api/api-server';
import { fromAppError } from '../../electron/api/api-errors';
import { AppErrorException } from '../../electron/shared/errors';
import { createHttpClient } from '../../electron/transport/http-client';
import { createIpcClient } from '../../electron/transport/ipc-client';
import { registerIpcHandlers } from '../../electron/transport/ipc-main';
import { makePng } from '../helpers/test-images';
import { createTestBackend, GOOD_GENERATE, INVALID_INPUTS, type TestBackend } from '../helpers/test-backend';

const KEY = 'test-key-0123456789abcdef';


const rpc = (port: number, name: string, input: unknown, headers: Record<string, string> = {}): Promise<RawResponse> =>
  raw(port, {
    method: 'POST',
    path: `/rpc/${name}`,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}`, ...headers },
    body: encodeWire(input),
  });

/** Writes raw bytes on one socket; resolves with all it got back once the server closes it. */
const rawSocket = (port: number, text: string, endAfterMs = 5000): Promise<{ data: string; ms: number }> =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ data, ms: Date.now() - started }));
    setTimeout(() => socket.destroy(), endAfterMs).unref();
  });

describe('HTTP transport', () => {
  let backend: TestBackend;
  let server: RunningServer;
  let staticDir: string;
  let outside: string;

  const start = async (engineOptions = {}, maxBodyBytes?: number, limits: Partial<ServerLimits> = {}): Promise<void> => {
    backend = createTestBackend(engineOptions);
    server = await startHttpServer(
      '127.0.0.1',
      0,
      {
        dispatcher: backend.dispatcher,
        apiKey: KEY,
        staticDir,
        ...(maxBodyBytes ? { maxBodyBytes } : {}),
        api: async (_req, res) => void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('v1'),
      },
      limits,
    );
  };
  const client = (apiKey: string | undefined = KEY) => createHttpClient({ baseUrl: server.origin, ...(apiKey ? { apiKey } : {}) });

  beforeAll(() => {
    staticDir = mkdtempSync(path.join(os.tmpdir(), 'firellava-static-'));
    outside = mkdtempSync(path.join(os.tmpdir(), 'firellava-outside-'));
    writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>FireLLaVA</title>');
    mkdirSync(path.join(staticDir, 'assets'));
    writeFileSync(path.join(staticDir, 'assets', 'app-1234.js'), 'console.log(1)');
    writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    symlinkSync(path.join(outside, 'secret.txt'), path.join(staticDir, 'link.txt'));
  });
  afterAll(() => {
    rmSync(staticDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.close();
    await backend?.cleanup();
  });

  it('answers calls with the bearer key', async () => {
    await start();
    expect(await client().call('app.info', {})).toEqual({ ok: true, value: { name: 'FireLLaVA', version: '0.0.0-test', transport: 'http', notices: [] } });
  });

  it('rejects invalid input by schema with the same error as the IPC transport', async () => {
    await start();
    const ipcBackend = createTestBackend();
    const fake = { handle: new Map<string, (...a: any[]) => unknown>(), on: new Map<string, (...a: any[]) => void>() };
    const sender = { id: 1, send: (ch: string, ...a: unknown[]) => queueMicrotask(() => rendererOn.get(ch)?.({}, ...a)), isDestroyed: () => false, once: () => {} };
    const rendererOn = new Map<string, (...a: any[]) => void>();
    const ev = { sender, senderFrame: { url: 'app://renderer/' } };
    registerIpcHandlers(
      { handle: (c, l) => void fake.handle.set(c, l), removeHandler: () => {}, on: (c, l) => void fake.on.set(c, l), removeListener: () => {} },
      createDispatcher(contract, ipcBackend.handlers),
      { isAllowedSender: () => true },
    );
    const ipcClient = createIpcClient({
      invoke: async (c, ...a) => fake.handle.get(c)!(ev, ...a),
      send: (c, ...a) => queueMicrotask(() => fake.on.get(c)!(ev, ...a)),
      on: (c, l) => void rendererOn.set(c, l),
    });
    try {
      for (const [name, input] of Object.entries(INVALID_INPUTS)) {
        const isCall = contract[name as keyof typeof contract].kind === 'call';
        const overHttp = isCall ? await client().call(name as 'app.info', input as {}) : await client().stream(name as 'engine.watch', input as {}, () => {}).done;
        const overIpc = isCall ? await ipcClient.call(name as 'app.info', input as {}) : await ipcClient.stream(name as 'engine.watch', input as {}, () => {}).done;
        expect(overHttp.ok, name).toBe(false);
        expect(!overHttp.ok && overHttp.error.code, name).toBe('INVALID_INPUT');
        expect(overHttp, name).toEqual(overIpc);
      }
      expect(backend.ran.size).toBe(0);
      const r = await rpc(server.port, 'attachments.add', { data: 'x' });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringContaining('data:') } });
    } finally {
      await ipcBackend.cleanup();
    }
  });

  it('needs the key: missing or wrong gives 401, for the API and the page', async () => {
    await start();
    const none = await createHttpClient({ baseUrl: server.origin }).call('app.info', {});
    expect(!none.ok && none.error.code).toBe('FORBIDDEN');
    expect((await rpc(server.port, 'app.info', {}, { Authorization: '' })).status).toBe(401);
    const wrong = await rpc(server.port, 'app.info', {}, { Authorization: 'Bearer not-the-key' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body).error.code).toBe('FORBIDDEN');
    expect((await raw(server.port, { path: '/' })).status).toBe(401);
    expect((await raw(server.port, { path: '/assets/app-1234.js' })).status).toBe(401);
    expect((await raw(server.port, { path: '/?key=wrong' })).status).toBe(401);
    expect(backend.ran.size).toBe(0);
  });

  it('trades ?key for an HttpOnly SameSite=Strict cookie and redirects without the key', async () => {
    await start();
    const first = await raw(server.port, { path: `/?key=${KEY}` });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const cookie = first.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toMatch(new RegExp(`^firellava_key_${server.port}=`));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const pair = cookie.split(';')[0]!;
    const page = await raw(server.port, { path: '/', headers: { Cookie: pair } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>FireLLaVA</title>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("img-src 'self' blob: data:");
    expect(page.headers['content-security-policy']).not.toMatch(/unsafe-eval|unsafe-inline|http:|https:/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const api = await rpc(server.port, 'app.info', {}, { Authorization: '', Cookie: pair });
    expect(api.status).toBe(200);
    // A cookie for another port's server is not ours.
    const other = await rpc(server.port, 'app.info', {}, { Authorization: '', Cookie: pair.replace(String(server.port), '1') });
    expect(other.status).toBe(401);
  });

  it('refuses a foreign Host (DNS rebinding) with 403 even with the key', async () => {
    await start();
    for (const host of ['evil.example', 'evil.example:80', `127.0.0.1.evil.example:${server.port}`, 'localhost.:1', '[::2]:80']) {
      const r = await rpc(server.port, 'app.info', {}, { Host: host });
      expect(r.status, host).toBe(403);
    }
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
      expect((await rpc(server.port, 'app.info', {}, { Host: host })).status, host).toBe(200);
    }
    expect(backend.ran.get('app.info')).toBe(3);
    // HTTP/1.0 may omit Host entirely.
    const noHost = await new Promise<string>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.end(`GET /?key=${KEY} HTTP/1.0\r\n\r\n`));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
    });
    expect(noHost).toMatch(/^HTTP\/1\.1 403/);
  });

  it('refuses cross-origin posts and non-JSON bodies', async () => {
    await start();
    expect((await rpc(server.port, 'app.info', {}, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await rpc(server.port, 'app.info', {}, { Origin: `http://127.0.0.1:${server.port}` })).status).toBe(200);
    expect((await rpc(server.port, 'app.info', {}, { 'Content-Type': 'text/plain' })).status).toBe(415);
    const broken = await raw(server.port, { method: 'POST', path: '/rpc/app.info', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` }, body: '{nope' });
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body).error.code).toBe('INVALID_INPUT');
    expect((await rpc(server.port, 'no.such', {})).status).toBe(404);
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    await start({}, 64 * 1024);
    const declared = await rpc(server.port, 'attachments.add', { data: new Uint8Array(100 * 1024) });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error).toEqual({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/larger than the 0 MB limit|limit/) });
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: server.port, method: 'POST', path: '/rpc/attachments.add', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}`, 'Transfer-Encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(16 * 1024, 0x20));
      req.end();
    });
    expect(streamed).toBe(413);
    expect(backend.ran.size).toBe(0);
  });

  it('allows a 50 MB image under the default limit', async () => {
    await start();
    expect(DEFAULT_MAX_BODY_BYTES).toBeGreaterThan(Math.ceil((50 * 1024 * 1024 * 4) / 3) + 1024);
    const png = makePng(28, 28, 9);
    const big = new Uint8Array(50 * 1024 * 1024);
    big.set(png); // trailing zeros after IEND are ignored
    const r = await client().call('attachments.add', { data: big });
    // Stored re-encoded: the trailing padding is gone.
    expect(r.ok && r.value).toMatchObject({ width: 28 });
    expect(r.ok && r.value.byteLength).toBeLessThan(png.length * 2);
    const over = await raw(server.port, {
      method: 'POST',
      path: '/rpc/attachments.add',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
      body: Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 1, 0x20),
    });
    expect(over.status).toBe(413);
  });

  it('answers "no model loaded" with 503 and a failed generation with 500, as /v1 does (one status table)', async () => {
    const refuse = (code: 'NO_MODEL' | 'GENERATION_FAILED') => async () => {
      throw new AppErrorException({ code, message: code });
    };
    backend = createTestBackend({}, { 'engine.status': refuse('NO_MODEL'), 'app.info': refuse('GENERATION_FAILED') });
    server = await startHttpServer('127.0.0.1', 0, { dispatcher: backend.dispatcher, apiKey: KEY, staticDir: null });
    const noModel = await rpc(server.port, 'engine.status', {});
    expect(noModel.status).toBe(503);
    expect(noModel.status).toBe(fromAppError({ code: 'NO_MODEL', message: '' }).status);
    const failed = await rpc(server.port, 'app.info', {});
    expect(failed.status).toBe(500);
    expect(failed.status).toBe(fromAppError({ code: 'GENERATION_FAILED', message: '' }).status);
  });

  it('streams over SSE and ends with the Result', async () => {
    await start();
    const events: GenerateEvent[] = [];
    const done = await client().stream('chat.generate', GOOD_GENERATE, (e) => events.push(e)).done;
    expect(done).toEqual({ ok: true, value: undefined });
    expect(events.map((e) => e.type)).toEqual(['phase', 'delta', 'delta', 'delta', 'delta', 'delta', 'done']);
    const r = await rpc(server.port, 'chat.generate', GOOD_GENERATE);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    const blocks = r.body.trim().split('\n\n');
    expect(blocks.at(-1)).toBe('event: end\ndata: {"ok":true}');
    expect(decodeWire(blocks[0]!.split('data: ')[1]!)).toEqual({ type: 'phase', phase: 'generating' });
  });

  it('client disconnect aborts the stream handler at once', async () => {
    await start({ delayMs: 300, words: ['one', 'two', 'three', 'four'] });
    const events: GenerateEvent[] = [];
    const handle = client().stream('chat.generate', GOOD_GENERATE, (e) => events.push(e));
    await expect.poll(() => events.length, { timeout: 2000 }).toBeGreaterThan(0);
    const cancelledAt = Date.now();
    handle.cancel();
    expect(await handle.done).toEqual({ ok: false, error: { code: 'CANCELLED', message: 'Cancelled' } });
    await backend.engine.aborted;
    expect(backend.engine.abortedAt! - cancelledAt).toBeLessThan(150);

    // A raw socket that just goes away does the same for engine.watch.
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: server.port, method: 'POST', path: '/rpc/engine.watch', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` } },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {});
      req.end('{}');
      setTimeout(() => reject(new Error('no data')), 2000);
    });
    await expect.poll(() => backend.engine.listenerCount, { timeout: 1000 }).toBe(0);
  });

  it('carries bytes with the $bytes codec', async () => {
    await start();
    const png = makePng(10, 12, 4);
    const r = await client().call('attachments.add', { name: 'x.png', data: new Uint8Array(png) });
    expect(r.ok && r.value).toMatchObject({ width: 10, height: 12, mimeType: 'image/png' });
    expect(encodeWire({ data: new Uint8Array([1, 2, 255]) })).toBe('{"data":{"$bytes":"AQL/"}}');
    expect(decodeWire('{"data":{"$bytes":"AQL/"}}')).toEqual({ data: new Uint8Array([1, 2, 255]) });
  });

  it('serves static files without traversal', async () => {
    await start();
    const auth = { Authorization: `Bearer ${KEY}` };
    const js = await raw(server.port, { path: '/assets/app-1234.js', headers: auth });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    for (const p of ['/../package.json', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fetc/passwd', '/..%5c..%5cetc%5cpasswd', '/link.txt', '/%00', '/%E0%A4%A', '/assets', '/nothing.js']) {
      const r = await raw(server.port, { path: p, headers: auth });
      expect(r.status, p).toBe(404);
      expect(r.body).not.toContain('secret');
      expect(r.body).not.toContain('root:');
    }
    expect((await raw(server.port, { method: 'DELETE', path: '/', headers: auth })).status).toBe(405);
  });

  it('closes a connection whose headers never finish, with 408 (headersTimeout)', async () => {
    await start({}, undefined, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const r = await rawSocket(server.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Slow: 1\r\n`);
    expect(r.data).toMatch(/^HTTP\/1\.1 408/);
    expect(r.ms).toBeLessThan(3000);
  });

  it('does not cut an SSE stream that outlasts requestTimeout', async () => {
    await start({ delayMs: 250 }, undefined, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const started = Date.now();
    const r = await rpc(server.port, 'chat.generate', GOOD_GENERATE);
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect(r.body.trim().split('\n\n').at(-1)).toBe('event: end\ndata: {"ok":true}');
  });

  it('caps open connections (maxConnections)', async () => {
    await start({}, undefined, { maxConnections: 2 });
    const held = await Promise.all(
      [0, 1].map(() => new Promise<net.Socket>((resolve) => { const s = net.connect(server.port, '127.0.0.1', () => resolve(s)); })),
    );
    await new Promise((r) => setTimeout(r, 100));
    const third = await rawSocket(server.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
    expect(third.data).toBe('');
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await rpc(server.port, 'app.info', {})).status).toBe(200);
  });

  it('refuses two Host headers with 400, for the UI and /v1', async () => {
    await start();
    for (const p of ['/', '/v1/models', '/rpc/app.info']) {
      const r = await rawSocket(server.port, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nHost: evil.example\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`);
      expect(r.data, p).toMatch(/^HTTP\/1\.1 400/);
    }
    const one = await rawSocket(server.port, `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`);
    expect(one.data).toMatch(/^HTTP\/1\.1 200/);
  });

  it('redirects ?key only to a local path, never to another host', async () => {
    await start();
    const cases: Array<[string, string]> = [
      [`/%2e//evil.example/?key=${KEY}`, '/evil.example/'],
      [`//evil.example/x?key=${KEY}`, '/x'],
      [`/%2e/%5c%5cevil.example/?key=${KEY}&a=1`, '/%5c%5cevil.example/?a=1'],
      [`/a/..//%2e%2e//evil.example?key=${KEY}`, '/evil.example'],
      [`/assets//app.js?key=${KEY}`, '/assets/app.js'],
    ];
    for (const [p, want] of cases) {
      const r = await raw(server.port, { path: p });
      expect(r.status, p).toBe(303);
      const location = String(r.headers.location);
      expect(location, p).toBe(want);
      expect(new URL(location, 'http://127.0.0.1/').host, p).toBe('127.0.0.1');
    }
  });

  it('the desktop API port has the same edge: two Host headers get 400', async () => {
    await start();
    const api = await startApiServer('127.0.0.1', 0, { engine: backend.engine, attachments: backend.attachments, apiKey: KEY });
    try {
      const two = await rawSocket(api.port, `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${api.port}\r\nHost: evil.example\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`);
      expect(two.data).toMatch(/^HTTP\/1\.1 400/);
      const one = await rawSocket(api.port, `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${api.port}\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`);
      expect(one.data).toMatch(/^HTTP\/1\.1 200/);
      expect(api.server.maxConnections).toBe(256);
    } finally {
      await api.close();
    }
  });
});
