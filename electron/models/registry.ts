// Installed models: <dataDir>/models/registry.json plus one folder per model holding its two
// GGUF files. The registry is rewritten atomically (temp + rename), so a crash never leaves half a
// JSON file. Updates are serialised within the process and, through a lock file, across processes
// (`firellava pull` while the app runs), so neither loses the other's change.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelFileRole } from '../shared/contracts/models';
import { writePrivateFile } from '../store/private-files';

export interface RegistryFile {
  role: ModelFileRole;
  fileName: string;
  url: string | null;
  /** Known size (catalog, server or local file). */
  size: number | null;
  /** Expected sha256 given by the catalog or the user. */
  expectedSha256: string | null;
  /** sha256 measured while downloading or importing. */
  sha256: string | null;
  linked: 'download' | 'copy' | 'hardlink' | 'symlink';
}

export interface RegistryEntry {
  id: string;
  name: string;
  /** "catalog:<id>", "url", "hf:<repo>", "import". */
  source: string;
  /** Where a gated license is accepted. */
  licenseUrl: string | null;
  files: RegistryFile[];
  /** Both files are downloaded (or imported) and verified by size and checksum. */
  complete: boolean;
  addedAt: string;
  /** Set when the pair crashed the engine twice; `files` is the files' identity then, so replacing them clears it. */
  broken?: { message: string; files: string; at: string };
}

interface RegistryData {
  version: 1;
  active: string | null;
  models: RegistryEntry[];
}

export interface RegistryLockOptions {
  /** How long update() waits for another process's lock before giving up. */
  waitMs?: number;
  /** A lock older than this is left over from a crash (an update takes milliseconds). */
  staleMs?: number;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export class ModelRegistry {
  readonly modelsDir: string;
  private readonly file: string;
  private readonly lockFile: string;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly waitMs: number;
  private readonly staleMs: number;

  constructor(dataDir: string, options: RegistryLockOptions = {}) {
    this.modelsDir = path.join(dataDir, 'models');
    this.file = path.join(this.modelsDir, 'registry.json');
    this.lockFile = `${this.file}.lock`;
    this.waitMs = options.waitMs ?? 10_000;
    this.staleMs = options.staleMs ?? 30_000;
  }

  /** Takes the cross-process lock file; returns its release. */
  private async acquireFileLock(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.waitMs;
    const token = randomBytes(8).toString('hex');
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      try {
        const handle = await open(this.lockFile, 'wx');
        await handle.writeFile(JSON.stringify({ pid: process.pid, token }));
        await handle.close();
        return async () => {
          // Only our own lock: a stale-lock takeover by another process must not be undone here.
          const held = await readFile(this.lockFile, 'utf8').catch(() => '');
          if (held.includes(token)) await rm(this.lockFile, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await this.lockHolder();
      if (holder.stale) {
        await rm(this.lockFile, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `The model registry is being changed by another FireLLaVA process${holder.pid ? ` (pid ${holder.pid})` : ''}; try again, or remove ${this.lockFile} if no other FireLLaVA is running`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Who holds the lock file, and whether it was left behind by a process that is gone. */
  private async lockHolder(): Promise<{ pid: number | null; stale: boolean }> {
    let pid: number | null = null;
    try {
      const text = await readFile(this.lockFile, 'utf8');
      pid = (JSON.parse(text) as { pid?: unknown }).pid as number;
      if (!Number.isInteger(pid) || pid <= 0) pid = null;
    } catch {
      // Being written right now, or already gone: judge by age below.
    }
    const age = await stat(this.lockFile).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    return { pid, stale: (pid !== null && !isAlive(pid)) || age > this.staleMs };
  }

  dirOf(id: string): string {
    return path.join(this.modelsDir, id);
  }

  pathOf(id: string, fileName: string): string {
    return path.join(this.modelsDir, id, fileName);
  }

  async read(): Promise<RegistryData> {
    try {
      const data = JSON.parse(await readFile(this.file, 'utf8')) as RegistryData;
      if (data.version === 1 && Array.isArray(data.models)) return data;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`The model registry ${this.file} cannot be read (${(err as Error).message}); move it away to start over`);
      }
    }
    return { version: 1, active: null, models: [] };
  }

  /** Serialised read-modify-write. */
  update<T>(fn: (data: RegistryData) => T | Promise<T>): Promise<T> {
    const run = this.lock.then(async () => {
      await mkdir(this.modelsDir, { recursive: true });
      const release = await this.acquireFileLock();
      try {
        // Read under the lock: another process may have changed the file since our last read.
        const data = await this.read();
        const result = await fn(data);
        await writePrivateFile(this.file, JSON.stringify(data, null, 2));
        return result;
      } finally {
        await release();
      }
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  async get(id: string): Promise<RegistryEntry | null> {
    return (await this.read()).models.find((m) => m.id === id) ?? null;
  }

  upsert(entry: RegistryEntry): Promise<void> {
    return this.update((d) => {
      const i = d.models.findIndex((m) => m.id === entry.id);
      if (i >= 0) d.models[i] = entry;
      else d.models.push(entry);
    });
  }

  remove(id: string): Promise<void> {
    return this.update((d) => {
      d.models = d.models.filter((m) => m.id !== id);
      if (d.active === id) d.active = null;
    });
  }

  setActive(id: string | null): Promise<void> {
    return this.update((d) => {
      d.active = id;
    });
  }
}
