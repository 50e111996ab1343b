// Installed models: <dataDir>/models/registry.json plus one folder per model holding its two
// GGUF files. The registry is rewritten atomically (temp + rename) under a lock, so a crash
// never leaves half a JSON file and concurrent updates in one process never lose each other.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelFileRole } from '../shared/contracts/models';

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
}

interface RegistryData {
  version: 1;
  active: string | null;
  models: RegistryEntry[];
}

export class ModelRegistry {
  readonly modelsDir: string;
  private readonly file: string;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.modelsDir = path.join(dataDir, 'models');
    this.file = path.join(this.modelsDir, 'registry.json');
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
      const data = await this.read();
      const result = await fn(data);
      await mkdir(this.modelsDir, { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(data, null, 2));
      await rename(tmp, this.file);
      return result;
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
