// The headless server's image route: behind the key, ids only, nothing outside the attachments folder.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import { startHttpServer, type RunningServer } from '../../electron/server/http-server';
import { FakeEngine } from '../helpers/fake-engine';
import { makePng } from '../helpers/test-images';

const KEY = 'route-test-key-0123456789';
let dir: string;
let backend: Backend;
let server: RunningServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-route-'));
  backend = createBackend({ dataDir: dir, engine: new FakeEngine(), app: { name: 'FireLLaVA', version: 'test' } });
  server = await startHttpServer('127.0.0.1', 0, { dispatcher: backend.dispatcher, apiKey: KEY, staticDir: null, attachmentFile: backend.attachmentFile });
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (p: string, key: string | null = KEY): Promise<Response> => fetch(`${server.origin}${p}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });

describe('attachment image route', () => {
  it('serves a stored image and its thumbnail with the right type, only with the key', async () => {
    const info = await backend.attachments.add(makePng(28, 28, 9));
    const full = await get(`/attachments/${info.id}`);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await full.arrayBuffer()).equals(readFileSync(await backend.attachments.pathOf(info.id)))).toBe(true);
    const thumb = await get(`/attachments/${info.id}/thumb`);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await get(`/attachments/${info.id}`, null)).status).toBe(401);
    expect((await get(`/attachments/${info.id}`, 'wrong-key-wrong-key-wrong')).status).toBe(401);
  });

  it('answers 404 for unknown ids and anything that is not an id', async () => {
    writeFileSync(path.join(dir, 'history-secret.txt'), 'secret');
    expect((await get(`/attachments/${'d'.repeat(64)}`)).status).toBe(404);
    for (const p of ['/attachments/..%2Fhistory-secret.txt', '/attachments/../history.sqlite', `/attachments/${'d'.repeat(64)}.png`, '/attachments/']) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expect(await r.text()).not.toContain('secret');
    }
  });
});
