// The desktop app's local API server through its contract calls, on the real engine with the tiny
// model, driven by the official `openai` client: enable, rotate, disable, a port in use, settings
// and key across a restart (keychain through the real file secret store), a corrupt settings file,
// a non-loopback host, headless (no keychain).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import { createApiServerHandlers } from '../../electron/backend/api-server-handlers';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { createFileSecretStore, type SafeStorageLike, type SecretStore } from '../../electron/secrets/secret-store';
import { apiServerContract, DEFAULT_API_PORT, type ApiServerStatus } from '../../electron/shared/contracts/api-server';
import { createDispatcher, type RequestContext } from '../../electron/shared/dispatcher';
import type { Result } from '../../electron/shared/errors';
import { startEngine } from '../helpers/engine';
import { getFixtures } from '../helpers/fixtures';
import { raw } from '../helpers/raw-http';
import { freePort } from '../helpers/free-port';

/** Stands in for Electron's safeStorage (as in tests/shell/secret-store.test.ts). */
class FakeSafeStorage implements SafeStorageLike {
  available = true;
  isEncryptionAvailable = () => this.available;
  backend = 'gnome_libsecret';
  getSelectedStorageBackend = () => this.backend;
  encryptString = (plain: string) => Buffer.concat([Buffer.from('v10'), Buffer.from(plain, 'utf8').map((b) => b ^ 0x5a)]);
  decryptString = (data: Buffer) => {
    if (data.subarray(0, 3).toString() !== 'v10') throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    return Buffer.from(data.subarray(3).map((b) => b ^ 0x5a)).toString('utf8');
  };
}

const ELECTRON: RequestContext = { transport: 'electron' };

/** Error codes down the `cause` chain (the openai client wraps fetch's error, which wraps the socket's). */
function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) if (typeof e.code === 'string') codes.push(e.code);
  return codes;
}

const value = <T>(r: Result<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};

describe('local API server (desktop settings)', () => {
  let engine: LocalEngine;
  let tmp: string;
  let model: string;
  const cleanups: (() => Promise<void> | void)[] = [];

  /** One backend start: the handlers the app builds, over a dispatcher (so inputs go through zod). */
  function start(dataDir: string, secrets?: SecretStore) {
    const closers: (() => void | Promise<void>)[] = [];
    const handlers = createApiServerHandlers({
      engine,
      attachments: createAttachmentStore(dataDir),
      dataDir,
      ...(secrets ? { secrets } : {}),
      onClose: (c) => closers.push(c),
    });
    const dispatcher = createDispatcher(apiServerContract, handlers);
    const close = async (): Promise<void> => {
      await Promise.all(closers.map((c) => c()));
    };
    cleanups.push(close);
    return {
      close,
      call: (name: string, input: unknown = {}, ctx: RequestContext = ELECTRON) => dispatcher.call(name, input, ctx),
      status: async () => value((await dispatcher.call('apiServer.status', {}, ELECTRON)) as Result<ApiServerStatus>),
      configure: async (patch: Record<string, unknown>) => (await dispatcher.call('apiServer.configure', patch, ELECTRON)) as Result<ApiServerStatus>,
      rotate: async () => value((await dispatcher.call('apiServer.rotateKey', {}, ELECTRON)) as Result<ApiServerStatus>),
      key: async () => value((await dispatcher.call('apiServer.revealKey', {}, ELECTRON)) as Result<{ key: string }>).key,
    };
  }

  const clientFor = (baseURL: string, apiKey: string) => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20_000 });
  const ask = (client: OpenAI) =>
    client.chat.completions.create({ model: 'firellava-13b', messages: [{ role: 'user', content: 'Say something.' }], max_tokens: 4, temperature: 0, seed: 7 });

  beforeAll(async () => {
    const fx = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-settings-'));
    engine = startEngine();
    const loaded = await engine.load(fx.pair);
    if (!loaded.ok) throw new Error(loaded.error.message);
    model = path.basename(fx.pair.model).replace(/\.gguf$/, '');
  });

  afterAll(async () => {
    for (const c of cleanups) await c();
    await engine?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('first run: off on 127.0.0.1:11435, a new "fl-" key kept in the keychain (never in plain text), masked in the status', async () => {
    const dataDir = path.join(tmp, 'first');
    const secrets = createFileSecretStore(path.join(dataDir, 'secrets.json'), new FakeSafeStorage());
    const app = start(dataDir, secrets);
    const status = await app.status();
    expect(status.settings).toEqual({ enabled: false, host: '127.0.0.1', port: DEFAULT_API_PORT, corsOrigins: [], fetchImages: false });
    expect(status).toMatchObject({ running: false, baseUrl: null, keyStorage: 'keychain', error: null, warning: null, notices: [], servedApiPath: null });
    const key = await app.key();
    expect(key).toMatch(/^fl-[A-Za-z0-9_-]{32}$/);
    expect(await secrets.get('api.key')).toBe(key);
    expect(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')).not.toContain(key.slice(3));
    expect(JSON.stringify(status)).not.toContain(key.slice(3, -4));
    expect(status.keyHint).toBe(`fl-…${key.slice(-4)}`);
    await app.close();
  });

  it('enable → the openai client answers with the shown key; rotate → the old key gets AuthenticationError at once, the new one works, same listener; disable → refused', async () => {
    const dataDir = path.join(tmp, 'toggle');
    const app = start(dataDir, createFileSecretStore(path.join(dataDir, 'secrets.json'), new FakeSafeStorage()));
    const port = await freePort();
    const on = value(await app.configure({ enabled: true, port }));
    expect(on).toMatchObject({ running: true, baseUrl: `http://127.0.0.1:${port}/v1`, error: null });
    const oldKey = await app.key();
    const oldClient = clientFor(on.baseUrl!, oldKey);
    expect((await oldClient.models.list()).data.map((m) => m.id)).toEqual([model]);
    const answer = await ask(oldClient);
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);

    // A keep-alive connection made before the rotation is still the one used after it.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (key: string) =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/v1/models', agent, headers: { Authorization: `Bearer ${key}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('error', reject);
      });
    expect(await get(oldKey)).toEqual({ status: 200, reused: false });

    const rotated = await app.rotate();
    const newKey = await app.key();
    expect(newKey).not.toBe(oldKey);
    expect(rotated).toMatchObject({ running: true, baseUrl: on.baseUrl, keyHint: `fl-…${newKey.slice(-4)}` });
    expect(await get(oldKey)).toEqual({ status: 401, reused: true });
    await expect(ask(oldClient)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await ask(clientFor(on.baseUrl!, newKey))).choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(await get(newKey)).toEqual({ status: 200, reused: true });

    // CORS and image fetching change without a restart: the same connection answers the preflight.
    const preflight = () =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'OPTIONS', path: '/v1/chat/completions', agent, headers: { Origin: 'https://tools.example', 'Access-Control-Request-Method': 'POST' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await preflight()).toBe(403);
    value(await app.configure({ corsOrigins: ['https://tools.example/'], fetchImages: true }));
    expect(await preflight()).toBeLessThan(300);
    expect(await get(newKey)).toEqual({ status: 200, reused: true });
    agent.destroy();

    const off = value(await app.configure({ enabled: false }));
    expect(off).toMatchObject({ running: false, baseUrl: null, error: null });
    // The first call may land on a pooled keep-alive socket the server just closed; a new connection is refused.
    await expect(ask(clientFor(on.baseUrl!, newKey))).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    const refused = await ask(clientFor(on.baseUrl!, newKey)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(causeCodes(refused)).toContain('ECONNREFUSED');
    await app.close();
  });

  it('a port in use gives a clear error and keeps the settings; settings and key survive a restart; the server comes back on its own', async () => {
    const dataDir = path.join(tmp, 'restart');
    const safe = new FakeSafeStorage();
    const secretsFile = path.join(dataDir, 'secrets.json');
    const app = start(dataDir, createFileSecretStore(secretsFile, safe));
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as net.AddressInfo).port;

    const failed = value(await app.configure({ enabled: true, port: busy, corsOrigins: ['http://localhost:5173'], fetchImages: true }));
    expect(failed.running).toBe(false);
    expect(failed.error).toBe(`Port ${busy} on 127.0.0.1 is already in use by another program, so the API server is not running. Choose another port; your settings are saved.`);
    expect(failed.settings).toEqual({ enabled: true, host: '127.0.0.1', port: busy, corsOrigins: ['http://localhost:5173'], fetchImages: true });

    // Saving again once the port is free starts it.
    await new Promise<void>((r) => blocker.close(() => r()));
    const retried = value(await app.configure({}));
    expect(retried).toMatchObject({ running: true, error: null, baseUrl: `http://127.0.0.1:${busy}/v1` });
    const key = await app.key();
    await app.close();
    await expect(raw(busy, { path: '/v1/models' })).rejects.toThrow(/ECONNREFUSED/);

    // Next start of the app: same data folder, same keychain.
    const again = start(dataDir, createFileSecretStore(secretsFile, safe));
    const status = await again.status();
    expect(status.settings).toEqual(failed.settings);
    expect(status).toMatchObject({ running: true, baseUrl: `http://127.0.0.1:${busy}/v1`, keyStorage: 'keychain' });
    expect(await again.key()).toBe(key);
    expect((await ask(clientFor(status.baseUrl!, key))).choices.length).toBe(1);
    await again.close();
  });

  it('a corrupt settings file: defaults, a clear notice, the file kept aside, and saving works again', async () => {
    const dataDir = path.join(tmp, 'corrupt');
    const file = path.join(dataDir, 'api-server.json');
    for (const junk of ['{"version":1,"settings":{"enabled":true,"port":', JSON.stringify({ version: 1, settings: { enabled: true, port: 80 } })]) {
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, junk);
      const app = start(dataDir);
      const status = await app.status();
      expect(status.settings.enabled).toBe(false);
      expect(status.running).toBe(false);
      const aside = readdirSync(dataDir).filter((f) => f.startsWith('api-server.json.unreadable-'));
      expect(aside).toHaveLength(1);
      expect(readFileSync(path.join(dataDir, aside[0]!), 'utf8')).toBe(junk);
      expect(status.notices).toEqual([expect.stringContaining(`The API server settings file was unreadable`)]);
      expect(status.notices[0]).toContain(`kept as ${aside[0]}`);
      expect(existsSync(file)).toBe(false);
      const saved = value(await app.configure({ port: 0 }));
      expect(saved.notices).toEqual([]);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, settings: { ...saved.settings, port: 0 } });
      await app.close();
    }
  });

  it('bad input is refused with a clear message and changes nothing', async () => {
    const dataDir = path.join(tmp, 'invalid');
    const app = start(dataDir);
    const before = await app.status();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ port: 80 }, /port: The port is 1024-65535/],
      [{ port: 70000 }, /port: The port is 1024-65535/],
      [{ host: 'my host' }, /host: Enter an IP address/],
      [{ host: '' }, /host: Enter an address/],
      [{ corsOrigins: ['https://tools.example/app'] }, /corsOrigins\.0: "https:\/\/tools\.example\/app" is not an origin/],
      [{ corsOrigins: ['*'] }, /is not an origin/],
      [{ enabled: 'yes' }, /enabled/],
      [{ apiKey: 'mine' }, /apiKey|Unrecognized/],
    ];
    for (const [patch, message] of cases) {
      const r = await app.configure(patch);
      expect(r.ok, JSON.stringify(patch)).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('INVALID_INPUT');
        expect(r.error.message).toMatch(message);
      }
    }
    expect(await app.status()).toEqual(before);
    expect(existsSync(path.join(dataDir, 'api-server.json'))).toBe(false);
    await app.close();
  });

  it('a non-loopback host works and carries a warning', async () => {
    const dataDir = path.join(tmp, 'lan');
    const app = start(dataDir);
    const status = value(await app.configure({ enabled: true, host: '0.0.0.0', port: 0 }));
    expect(status.running).toBe(true);
    expect(status.warning).toMatch(/listens on 0\.0\.0\.0: other computers that can reach this one can use the model with the key/);
    const key = await app.key();
    expect((await clientFor(status.baseUrl!, key).models.list()).data).toHaveLength(1);
    // Other computers call it by this machine's address; a foreign name (DNS rebinding) is refused.
    const port = Number(new URL(status.baseUrl!).port);
    const lan = Object.values(os.networkInterfaces())
      .flatMap((l) => l ?? [])
      .find((a) => a.family === 'IPv4' && !a.internal);
    if (lan) expect((await raw(port, { path: '/v1/models', headers: { Host: `${lan.address}:${port}`, Authorization: `Bearer ${key}` } })).status).toBe(200);
    const foreign = await raw(port, { path: '/v1/models', headers: { Host: `evil.example:${port}`, Authorization: `Bearer ${key}` } });
    expect(foreign.status).toBe(403);
    const back = value(await app.configure({ host: '127.0.0.1' }));
    expect(back.warning).toBeNull();
    expect(back.running).toBe(true);
    await app.close();
  });

  it('headless (no keychain): the key lives in memory and says so; the serve transport learns about /v1', async () => {
    const dataDir = path.join(tmp, 'headless');
    const app = start(dataDir);
    const status = await app.status();
    expect(status.keyStorage).toBe('memory');
    const key = await app.key();
    const http = value((await app.call('apiServer.status', {}, { transport: 'http' })) as Result<ApiServerStatus>);
    expect(http.servedApiPath).toBe('/v1');
    await app.close();
    const next = start(dataDir);
    expect(await next.key()).not.toBe(key);
    expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
    await next.close();
  });

  it('a keychain that cannot decrypt the saved key: a temporary key and a notice; the saved one is left for later', async () => {
    const dataDir = path.join(tmp, 'locked');
    const safe = new FakeSafeStorage();
    const file = path.join(dataDir, 'secrets.json');
    const first = start(dataDir, createFileSecretStore(file, safe));
    const saved = await first.key();
    await first.close();
    safe.available = false;
    const locked = start(dataDir, createFileSecretStore(file, safe));
    const status = await locked.status();
    expect(status.keyStorage).toBe('memory');
    expect(status.notices).toEqual([expect.stringMatching(/The saved API key could not be read \(.*keychain.*\); a temporary key is used/)]);
    expect(await locked.key()).not.toBe(saved);
    await locked.close();
    safe.available = true;
    const unlocked = start(dataDir, createFileSecretStore(file, safe));
    expect(await unlocked.key()).toBe(saved);
    await unlocked.close();
  });

  it('a keychain without real encryption (Linux basic_text): the key stays in memory, never written, and rotates there', async () => {
    const dataDir = path.join(tmp, 'basic-text');
    const safe = new FakeSafeStorage();
    safe.backend = 'basic_text';
    const app = start(dataDir, createFileSecretStore(path.join(dataDir, 'secrets.json'), safe));
    const status = await app.status();
    expect(status.keyStorage).toBe('memory');
    expect(status.notices).toEqual([expect.stringMatching(/could not be saved in the system keychain .*; it is kept in memory until the app quits/)]);
    const key = await app.key();
    const rotated = await app.rotate();
    expect(await app.key()).not.toBe(key);
    expect(rotated.keyStorage).toBe('memory');
    expect(existsSync(path.join(dataDir, 'secrets.json'))).toBe(false);
    await app.close();
  });

  it('a rotation the keychain cannot save is refused and the saved key keeps working', async () => {
    const dataDir = path.join(tmp, 'rotate-fails');
    const safe = new FakeSafeStorage();
    const app = start(dataDir, createFileSecretStore(path.join(dataDir, 'secrets.json'), safe));
    const key = await app.key();
    safe.backend = 'basic_text';
    const r = await app.call('apiServer.rotateKey');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/The new key could not be saved in the keychain .*; the current key still works/);
    expect(await app.key()).toBe(key);
    expect((await app.status()).keyStorage).toBe('keychain');
    await app.close();
  });
});
