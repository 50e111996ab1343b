// Remote engine configurations on disk (engines.json, keys apart), the default engine, and what a
// conversation's choice resolves to. No model needed: these are the settings a user keeps.
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineRegistry } from '../../electron/engine/engine-registry';
import { RemoteEngine } from '../../electron/engine/remote-engine';
import { createFileSecretStore, type SafeStorageLike } from '../../electron/secrets/secret-store';
import { FakeEngine } from '../helpers/fake-engine';

/** Electron's safeStorage stand-in: a reversible transform that is not plain text. */
const safeStorage: SafeStorageLike = {
  isEncryptionAvailable: () => true,
  getSelectedStorageBackend: () => 'gnome_libsecret',
  encryptString: (plain) => Buffer.from(Buffer.from(plain, 'utf8').map((b) => b ^ 0x5a)),
  decryptString: (data) => Buffer.from(data.map((b) => b ^ 0x5a)).toString('utf8'),
};

const FIREWORKS = { name: 'Fireworks', baseUrl: 'https://api.fireworks.ai/inference/v1/', model: 'accounts/fireworks/models/firellava-13b', key: 'fw-secret-key-123' };

let dir: string;
let local: FakeEngine;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-engines-'));
  local = new FakeEngine();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const keychain = () => createFileSecretStore(path.join(dir, 'secrets.json'), safeStorage);

describe('engine registry', () => {
  it('keeps remote engines and the default in engines.json, and their keys in the keychain only', async () => {
    const registry = new EngineRegistry({ local, dataDir: dir, secrets: keychain() });
    const added = await registry.addRemote(FIREWORKS);
    expect(added).toMatchObject({ kind: 'remote', name: 'Fireworks', baseUrl: 'https://api.fireworks.ai/inference/v1', keySaved: true });
    await registry.setDefault(added.id);

    const again = new EngineRegistry({ local, dataDir: dir, secrets: keychain() });
    const list = await again.list();
    expect(list).toMatchObject({ defaultEngineId: added.id, keyStorage: 'keychain', problem: null });
    expect(list.engines.map((e) => [e.id, e.kind, e.keySaved])).toEqual([['local', 'local', false], [added.id, 'remote', true]]);
    expect(JSON.stringify(list)).not.toContain(FIREWORKS.key);
    expect(readFileSync(path.join(dir, 'engines.json'), 'utf8')).not.toContain(FIREWORKS.key);
    expect(readFileSync(path.join(dir, 'secrets.json'), 'utf8')).not.toContain(FIREWORKS.key);
    expect(await keychain().names()).toEqual([`remote.${added.id}`]);

    const resolved = await again.resolve(null);
    expect(resolved.answeredBy).toEqual({ id: added.id, kind: 'remote', name: 'Fireworks', model: FIREWORKS.model });
    expect(resolved.engine).toBeInstanceOf(RemoteEngine);
    expect(resolved.engine?.status().device?.backend).toBe('remote');

    // Another name and key; no leftovers of the old key.
    const updated = await again.updateRemote({ id: added.id, name: 'Fireworks EU', key: 'new-key-456', sendTopK: false });
    expect(updated).toMatchObject({ name: 'Fireworks EU', sendTopK: false, model: FIREWORKS.model });
    await expect(again.addRemote({ ...FIREWORKS, name: 'fireworks eu' })).rejects.toThrow(/already exists/);

    // Two adds of one name at once (a double click): one engine, and no key left behind.
    const both = await Promise.allSettled([again.addRemote({ ...FIREWORKS, name: 'Twice' }), again.addRemote({ ...FIREWORKS, name: 'Twice' })]);
    expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await again.list()).engines.filter((e) => e.name === 'Twice')).toHaveLength(1);
    expect(await keychain().names()).toHaveLength(2);
  });

  it('removing an engine deletes its key, resets the default, and its conversations fall back with a notice', async () => {
    const registry = new EngineRegistry({ local, dataDir: dir, secrets: keychain() });
    const added = await registry.addRemote(FIREWORKS);
    await registry.setDefault(added.id);
    const list = await registry.removeRemote(added.id);
    expect(list.defaultEngineId).toBe('local');
    expect(list.engines.map((e) => e.id)).toEqual(['local']);
    expect(await keychain().names()).toEqual([]);
    const resolved = await registry.resolve(added.id);
    expect(resolved.engine).toBe(local);
    expect(resolved.notice).toMatch(/was removed; it now uses the default engine \(This computer\)/);
    await expect(registry.setDefault(added.id)).rejects.toThrow(/does not exist/);
  });

  it('without a keychain keeps keys in memory for this process only, and says so', async () => {
    const registry = new EngineRegistry({ local, dataDir: dir });
    const added = await registry.addRemote(FIREWORKS);
    expect((await registry.list()).keyStorage).toBe('memory');
    expect((await registry.resolve(added.id)).engine).toBeInstanceOf(RemoteEngine);
    expect(readdirSync(dir)).toEqual(['engines.json']);

    const restarted = new EngineRegistry({ local, dataDir: dir });
    expect((await restarted.list()).engines[1]).toMatchObject({ id: added.id, keySaved: false });
    const resolved = await restarted.resolve(added.id);
    expect(resolved.engine).toBeUndefined();
    expect(resolved.error?.message).toMatch(/No key is saved for “Fireworks”\. This server keeps keys in memory only/);
  });

  it('sets a damaged engines.json aside, says so, and starts again with the local engine', async () => {
    const file = path.join(dir, 'engines.json');
    writeFileSync(file, '{"version":1,"defaultEngineId":"local","remotes":[{"id":');
    const registry = new EngineRegistry({ local, dataDir: dir });
    const list = await registry.list();
    expect(list.problem).toMatch(/damaged and have been set aside as engines\.json\.damaged-/);
    expect(list.engines.map((e) => e.id)).toEqual(['local']);
    const aside = readdirSync(dir).find((f) => f.startsWith('engines.json.damaged-'))!;
    expect(readFileSync(path.join(dir, aside), 'utf8')).toContain('"remotes":[{"id":');
    expect(existsSync(file)).toBe(false);
    // Adding works again and clears the problem.
    await registry.addRemote(FIREWORKS);
    expect((await registry.list()).problem).toBeNull();
    expect(JSON.parse(readFileSync(file, 'utf8')).remotes).toHaveLength(1);
  });

  it('a test of an unreachable endpoint says why in words', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const registry = new EngineRegistry({ local });
    const result = await registry.test({ baseUrl: `http://127.0.0.1:${port}/v1`, key: 'k' });
    expect(result).toEqual({ ok: false, message: expect.stringMatching(/Cannot reach the remote engine at 127\.0\.0\.1:\d+: connection refused/), models: [] });
  });
});
