// Secrets (Hugging Face token, API keys, remote engine keys) encrypted with the OS keychain through
// Electron's safeStorage, which is injected: this domain never imports electron, and tests pass a
// fake. One JSON file holds the ciphertexts; it is written atomically with owner-only permissions.
import { promises as fs } from 'node:fs';
import { AppErrorException } from '../shared/errors';
import { writePrivateFile } from '../store/private-files';

/** The part of Electron's safeStorage this store uses. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: 'basic_text' means a hard-coded key, i.e. no protection. */
  getSelectedStorageBackend?(): string;
}

export interface SecretStore {
  /** False when the OS offers no real encryption; then set() refuses rather than store plain text. */
  isAvailable(): boolean;
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<boolean>;
  names(): Promise<string[]>;
}

/** e.g. 'hf.token', 'api.key', 'remote.openai'. */
export const SECRET_NAME = /^[a-z][a-z0-9._-]{0,63}$/;
export const MAX_SECRET_LENGTH = 8192;
const FILE_VERSION = 1;

interface SecretsFile {
  version: number;
  secrets: Record<string, string>; // name -> base64 ciphertext
}

const invalid = (message: string): AppErrorException => new AppErrorException({ code: 'INVALID_INPUT', message });

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) throw invalid('A secret name is 1-64 characters: lowercase letters, digits, ".", "_" or "-", starting with a letter');
  return name;
}

export function createFileSecretStore(file: string, safeStorage: SafeStorageLike): SecretStore {
  let queue: Promise<unknown> = Promise.resolve();
  /** Writes run one after another, so two quick set() calls never lose each other's value. */
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  const isAvailable = (): boolean => safeStorage.isEncryptionAvailable() && safeStorage.getSelectedStorageBackend?.() !== 'basic_text';

  async function read(): Promise<SecretsFile> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: FILE_VERSION, secrets: {} };
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    const p = parsed as Partial<SecretsFile> | null;
    if (!p || p.version !== FILE_VERSION || typeof p.secrets !== 'object' || p.secrets === null || Array.isArray(p.secrets)) {
      // Left untouched so nothing is lost; the user can remove it to start over.
      throw new AppErrorException({ code: 'INTERNAL', message: 'The saved secrets file is unreadable; it was left as is. Remove it to enter your keys again.', detail: file });
    }
    return { version: FILE_VERSION, secrets: Object.fromEntries(Object.entries(p.secrets).filter(([k, v]) => SECRET_NAME.test(k) && typeof v === 'string')) };
  }

  async function write(data: SecretsFile): Promise<void> {
    await writePrivateFile(file, `${JSON.stringify(data, null, 2)}\n`);
  }

  return {
    isAvailable,

    async get(name) {
      checkName(name);
      const secrets = (await read()).secrets;
      // Own keys only: 'constructor' or 'toString' are valid names, not inherited functions.
      const encoded = Object.hasOwn(secrets, name) ? secrets[name] : undefined;
      if (encoded === undefined) return null;
      if (!safeStorage.isEncryptionAvailable()) {
        throw new AppErrorException({ code: 'INTERNAL', message: 'The system keychain is not available, so saved secrets cannot be read right now' });
      }
      try {
        return safeStorage.decryptString(Buffer.from(encoded, 'base64'));
      } catch {
        throw new AppErrorException({ code: 'INTERNAL', message: `The saved secret "${name}" cannot be decrypted (was the keychain reset?); enter it again` });
      }
    },

    async set(name, value) {
      checkName(name);
      if (typeof value !== 'string' || value.length === 0) throw invalid('A secret cannot be empty; delete it instead');
      if (value.length > MAX_SECRET_LENGTH) throw invalid(`A secret is at most ${MAX_SECRET_LENGTH} characters`);
      if (!isAvailable()) {
        throw new AppErrorException({ code: 'INTERNAL', message: 'No system keychain is available to encrypt secrets; the key was not saved' });
      }
      return serial(async () => {
        const data = await read();
        data.secrets[name] = safeStorage.encryptString(value).toString('base64');
        await write(data);
      });
    },

    async delete(name) {
      checkName(name);
      return serial(async () => {
        const data = await read();
        if (!Object.hasOwn(data.secrets, name)) return false;
        delete data.secrets[name];
        await write(data);
        return true;
      });
    },

    async names() {
      return Object.keys((await read()).secrets).sort();
    },
  };
}
