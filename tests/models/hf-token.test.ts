// The Hugging Face token through the contract: saved to (and removed from) the app's keychain,
// never echoed back, refused with a clear reason by the headless server.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import type { TokenStore } from '../../electron/backend/model-handlers';
import { createLocalEngine } from '../../electron/engine/engine-host';
import { WORKER_ENTRY } from '../helpers/engine';

const TOKEN = 'hf_TestTokenValue0123456789';
const ctx = { transport: 'http' as const };

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function backendWith(store?: TokenStore): Promise<Backend> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'firellava-token-'));
  const engine = createLocalEngine({ workerEntry: WORKER_ENTRY });
  const backend = createBackend({ dataDir, engine, app: { name: 't', version: '0' }, ...(store ? { hfTokenStore: store } : {}) });
  cleanup.push(async () => {
    await backend.close();
    await engine.dispose();
    await rm(dataDir, { recursive: true, force: true });
  });
  return backend;
}

describe('Hugging Face token', () => {
  it('is saved to the keychain, reported without its value, and removed', async () => {
    let saved: string | null = null;
    const backend = await backendWith({ read: async () => saved, write: async (t) => void (saved = t) });
    expect(await backend.dispatcher.call('models.tokenStatus', {}, ctx)).toMatchObject({ ok: true, value: { saved: false, canSave: true } });

    const set = await backend.dispatcher.call('models.setToken', { token: ` ${TOKEN} ` }, ctx);
    expect(set).toMatchObject({ ok: true, value: { saved: true, canSave: true } });
    expect(saved).toBe(TOKEN);
    expect(JSON.stringify(set)).not.toContain(TOKEN);

    expect(await backend.dispatcher.call('models.setToken', { token: null }, ctx)).toMatchObject({ ok: true, value: { saved: false } });
    expect(saved).toBeNull();
  });

  it('refuses something that cannot be a token before it reaches the keychain', async () => {
    let writes = 0;
    const backend = await backendWith({ read: async () => null, write: async () => void writes++ });
    const r = await backend.dispatcher.call('models.setToken', { token: 'hf token with spaces' }, ctx);
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    expect(writes).toBe(0);
  });

  it('the headless server says where its token comes from instead of saving one', async () => {
    const backend = await backendWith();
    expect(await backend.dispatcher.call('models.tokenStatus', {}, ctx)).toMatchObject({ ok: true, value: { saved: false, canSave: false } });
    const r = await backend.dispatcher.call('models.setToken', { token: TOKEN }, ctx);
    expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    if (!r.ok) expect(r.error.message).toMatch(/HF_TOKEN/);
  });
});
