import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileSecretStore, type SafeStorageLike } from '../../electron/secrets/secret-store';

/** Stands in for Electron's safeStorage: a reversible transform, plus the switches tests need. */
class FakeSafeStorage implements SafeStorageLike {
  available = true;
  backend = 'gnome_libsecret';
  key = 0x5a;
  isEncryptionAvailable = () => this.available;
  getSelectedStorageBackend = () => this.backend;
  encryptString = (plain: string) => Buffer.concat([Buffer.from('v10'), Buffer.from(plain, 'utf8').map((b) => b ^ this.key)]);
  decryptString = (data: Buffer) => {
    if (data.subarray(0, 3).toString() !== 'v10') throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    const plain = Buffer.from(data.subarray(3).map((b) => b ^ this.key)).toString('utf8');
    if (!/^[\x20-\x7e]*$/.test(plain)) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    return plain;
  };
}

describe('file secret store', () => {
  let dir: string;
  let file: string;
  let safe: FakeSafeStorage;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-secrets-'));
    file = path.join(dir, 'secrets.json');
    safe = new FakeSafeStorage();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores, reads, lists and deletes secrets; the file never holds plain text', async () => {
    const store = createFileSecretStore(file, safe);
    expect(await store.get('hf.token')).toBeNull();
    expect(await store.get('constructor')).toBeNull();
    expect(await store.delete('tostring')).toBe(false);
    await store.set('hf.token', 'hf_abcdefSECRET');
    await store.set('api.key', 'sk-local-123');
    expect(await store.get('hf.token')).toBe('hf_abcdefSECRET');
    expect(await store.names()).toEqual(['api.key', 'hf.token']);
    expect(readFileSync(file, 'utf8')).not.toContain('SECRET');
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    // A second store on the same file (next app start) reads the same values.
    expect(await createFileSecretStore(file, safe).get('api.key')).toBe('sk-local-123');
    expect(await store.delete('api.key')).toBe(true);
    expect(await store.delete('api.key')).toBe(false);
    expect(await store.names()).toEqual(['hf.token']);
  });

  it('keeps every value when writes overlap', async () => {
    const store = createFileSecretStore(file, safe);
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.set(`remote.k${i}`, `value-${i}`)));
    expect(await store.names()).toHaveLength(8);
    expect(await store.get('remote.k7')).toBe('value-7');
  });

  it('refuses to save when the OS has no real encryption (never plain text)', async () => {
    safe.available = false;
    const store = createFileSecretStore(file, safe);
    expect(store.isAvailable()).toBe(false);
    await expect(store.set('hf.token', 'x')).rejects.toMatchObject({ error: { code: 'INTERNAL', message: expect.stringMatching(/not saved/) } });
    safe.available = true;
    safe.backend = 'basic_text'; // Linux without a keyring: a hard-coded key is no protection
    expect(store.isAvailable()).toBe(false);
    await expect(store.set('hf.token', 'x')).rejects.toMatchObject({ error: { code: 'INTERNAL' } });
    expect(() => readFileSync(file)).toThrow();
  });

  it('rejects bad names and values with clear errors', async () => {
    const store = createFileSecretStore(file, safe);
    for (const name of ['', 'HF', '../x', 'a b', '__proto__', 'x'.repeat(65), 7 as unknown as string]) {
      await expect(store.set(name, 'v'), String(name)).rejects.toMatchObject({ error: { code: 'INVALID_INPUT' } });
      await expect(store.get(name), String(name)).rejects.toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
    await expect(store.set('hf.token', '')).rejects.toMatchObject({ error: { message: expect.stringMatching(/cannot be empty/) } });
    await expect(store.set('hf.token', 'x'.repeat(9000))).rejects.toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });

  it('leaves a corrupt file untouched and says so', async () => {
    writeFileSync(file, '{"version":1,"secrets":');
    const store = createFileSecretStore(file, safe);
    await expect(store.get('hf.token')).rejects.toMatchObject({ error: { code: 'INTERNAL', message: expect.stringMatching(/unreadable; it was left as is/), detail: file } });
    await expect(store.set('hf.token', 'x')).rejects.toMatchObject({ error: { code: 'INTERNAL' } });
    expect(readFileSync(file, 'utf8')).toBe('{"version":1,"secrets":');
  });

  it('reports a secret that no longer decrypts (keychain reset) without losing the others', async () => {
    const store = createFileSecretStore(file, safe);
    await store.set('hf.token', 'hf_one');
    await store.set('api.key', 'two');
    const data = JSON.parse(readFileSync(file, 'utf8'));
    data.secrets['hf.token'] = Buffer.from('garbage').toString('base64');
    writeFileSync(file, JSON.stringify(data));
    await expect(store.get('hf.token')).rejects.toMatchObject({ error: { message: expect.stringMatching(/cannot be decrypted/) } });
    expect(await store.get('api.key')).toBe('two');
  });
});
