// The engines a conversation can answer with: the local one plus remote OpenAI-compatible endpoints
// the user added, and which one is the default. Configurations live in <dataDir>/engines.json
// (no keys); keys live in the SecretStore as 'remote.<id>', or in memory where there is no keychain
// (headless serve), for the life of the process.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { SecretStore } from '../secrets/secret-store';
import type { AnsweredBy, EngineEntry, EngineList, EngineTestResult } from '../shared/contracts/engines';
import { AppErrorException, type AppError } from '../shared/errors';
import { writePrivateFileSync } from '../store/private-files';
import type { Engine } from './engine';
import { RemoteEngine, type RemoteEngineOptions } from './remote-engine';

export const LOCAL_ENGINE_ID = 'local';
const FILE_VERSION = 1;

const remoteConfig = z.object({
  id: z.string().regex(/^r[a-z0-9]{4,32}$/),
  name: z.string().min(1).max(80),
  baseUrl: z.string().regex(/^https?:\/\//),
  model: z.string().min(1).max(256),
  sendTopK: z.boolean().optional(),
  /** Added without a key: the server needs none. */
  keyless: z.boolean().optional(),
});
export type RemoteEngineConfig = z.infer<typeof remoteConfig>;

const fileSchema = z.object({
  version: z.literal(FILE_VERSION),
  defaultEngineId: z.string(),
  remotes: z.array(remoteConfig).max(100),
});
type EnginesFile = z.infer<typeof fileSchema>;

/** The engine that answers a conversation, or why none can. */
export type ResolvedEngine = { answeredBy: AnsweredBy; notice: string | null } & ({ engine: Engine; error?: undefined } | { engine?: undefined; error: AppError });

export interface EngineRegistryOptions {
  local: Engine;
  /** Where engines.json lives; absent: nothing is saved (transport tests). */
  dataDir?: string | undefined;
  /** The desktop keychain; absent or unavailable: keys stay in memory. */
  secrets?: SecretStore | undefined;
  /** Test seam for RemoteEngine options (timeouts, fetch). */
  remoteOptions?: Partial<RemoteEngineOptions>;
}

const secretName = (id: string): string => `remote.${id}`;

export class EngineRegistry {
  private readonly local: Engine;
  private readonly file: string | null;
  private readonly secrets: SecretStore | null;
  private readonly memoryKeys = new Map<string, string>();
  private readonly remoteOptions: Partial<RemoteEngineOptions>;
  private state: EnginesFile = { version: FILE_VERSION, defaultEngineId: LOCAL_ENGINE_ID, remotes: [] };
  /** Shown in the list until the next successful save. */
  private problem: string | null = null;

  constructor(options: EngineRegistryOptions) {
    this.local = options.local;
    this.file = options.dataDir ? path.join(options.dataDir, 'engines.json') : null;
    this.secrets = options.secrets && options.secrets.isAvailable() ? options.secrets : null;
    this.remoteOptions = options.remoteOptions ?? {};
    this.load();
  }

  get keyStorage(): 'keychain' | 'memory' {
    return this.secrets ? 'keychain' : 'memory';
  }

  async list(): Promise<EngineList> {
    const engines: EngineEntry[] = [this.localEntry()];
    for (const r of this.state.remotes) engines.push(await this.entry(r));
    return { defaultEngineId: this.state.defaultEngineId, keyStorage: this.keyStorage, engines, problem: this.problem };
  }

  has(id: string): boolean {
    return id === LOCAL_ENGINE_ID || this.state.remotes.some((r) => r.id === id);
  }

  get defaultEngineId(): string {
    return this.state.defaultEngineId;
  }

  async addRemote(input: { name: string; baseUrl: string; model: string; key?: string | undefined; sendTopK?: boolean | undefined }): Promise<EngineEntry> {
    const config: RemoteEngineConfig = { id: `r${randomBytes(6).toString('hex')}`, name: input.name.trim(), baseUrl: normalizeBaseUrl(input.baseUrl), model: input.model.trim() };
    if (input.sendTopK === false) config.sendTopK = false;
    if (input.key === undefined) config.keyless = true;
    this.assertUniqueName(config.name, null);
    // Key first: a configuration without its key would only fail later.
    if (input.key !== undefined) await this.setKey(config.id, input.key);
    try {
      // Again after the await: another add with the same name may have been saved meanwhile.
      this.assertUniqueName(config.name, null);
      this.save({ ...this.state, remotes: [...this.state.remotes, config] });
    } catch (err) {
      await this.deleteKey(config.id);
      throw err;
    }
    return this.entry(config);
  }

  async updateRemote(input: { id: string; name?: string | undefined; baseUrl?: string | undefined; model?: string | undefined; key?: string | undefined; sendTopK?: boolean | undefined }): Promise<EngineEntry> {
    const current = this.remote(input.id);
    const next: RemoteEngineConfig = {
      id: current.id,
      name: input.name?.trim() ?? current.name,
      baseUrl: input.baseUrl !== undefined ? normalizeBaseUrl(input.baseUrl) : current.baseUrl,
      model: input.model?.trim() ?? current.model,
    };
    const sendTopK = input.sendTopK ?? current.sendTopK;
    if (sendTopK === false) next.sendTopK = false;
    // Setting a key later turns authentication on for an engine added without one.
    if (current.keyless && input.key === undefined) next.keyless = true;
    this.assertUniqueName(next.name, next.id);
    if (input.key !== undefined) await this.setKey(next.id, input.key);
    this.assertUniqueName(next.name, next.id);
    this.save({ ...this.state, remotes: this.state.remotes.map((r) => (r.id === next.id ? next : r)) });
    return this.entry(next);
  }

  async removeRemote(id: string): Promise<EngineList> {
    this.remote(id);
    this.save({
      ...this.state,
      defaultEngineId: this.state.defaultEngineId === id ? LOCAL_ENGINE_ID : this.state.defaultEngineId,
      remotes: this.state.remotes.filter((r) => r.id !== id),
    });
    await this.deleteKey(id);
    return this.list();
  }

  async setDefault(id: string): Promise<EngineList> {
    if (!this.has(id)) throw notFound();
    this.save({ ...this.state, defaultEngineId: id });
    return this.list();
  }

  /** Connects with GET {baseUrl}/models: a saved engine (values given override it) or unsaved values. */
  async test(input: { id?: string | undefined; baseUrl?: string | undefined; key?: string | undefined; model?: string | undefined }): Promise<EngineTestResult> {
    const saved = input.id !== undefined ? this.remote(input.id) : null;
    const baseUrl = input.baseUrl !== undefined ? normalizeBaseUrl(input.baseUrl) : saved?.baseUrl;
    if (!baseUrl) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'Give a base URL to test' });
    const key = input.key ?? (saved ? await this.getKey(saved.id) : null) ?? '';
    const model = input.model ?? saved?.model ?? '';
    const listed = await new RemoteEngine({ ...this.remoteOptions, baseUrl, apiKey: key, model }).listModels();
    if (!listed.ok) return { ok: false, message: key ? listed.error.message : `${listed.error.message} (no key was given)`, models: [] };
    const models = listed.value;
    const plain = new URL(baseUrl).protocol === 'http:' && !isLoopback(baseUrl) ? ' Warning: plain http, so the key and your images travel unencrypted.' : '';
    const served = models.length === 0 ? 'it lists no models' : `it serves ${models.slice(0, 5).join(', ')}${models.length > 5 ? ` and ${models.length - 5} more` : ''}`;
    const missing = model && models.length > 0 && !models.some((m) => m.toLowerCase() === model.toLowerCase()) ? ` “${model}” is not in that list (some servers accept other names too).` : '';
    return { ok: true, message: `Connected: ${key ? 'the key was accepted and ' : ''}${served}.${missing}${plain}`, models };
  }

  /** Whether resolve(engineId) answers with the local engine (same fallback), without reading any key. */
  isLocal(engineId: string | null): boolean {
    const id = engineId ?? this.state.defaultEngineId;
    return (this.has(id) ? id : this.has(this.state.defaultEngineId) ? this.state.defaultEngineId : LOCAL_ENGINE_ID) === LOCAL_ENGINE_ID;
  }

  /** The engine for a conversation's choice (null: the default); a removed remote falls back to the default. */
  async resolve(engineId: string | null): Promise<ResolvedEngine> {
    let notice: string | null = null;
    let id = engineId ?? this.state.defaultEngineId;
    if (!this.has(id)) {
      const fallback = this.has(this.state.defaultEngineId) ? this.state.defaultEngineId : LOCAL_ENGINE_ID;
      notice = `The remote engine chosen for this conversation was removed; it now uses the default engine (${this.nameOf(fallback)}).`;
      id = fallback;
    }
    if (id === LOCAL_ENGINE_ID) return { engine: this.local, answeredBy: this.localAnsweredBy(), notice };
    const config = this.remote(id);
    const answeredBy: AnsweredBy = { id, kind: 'remote', name: config.name, model: config.model };
    let key: string | null;
    try {
      key = await this.getKey(id);
    } catch (err) {
      return { answeredBy, notice, error: { code: 'FORBIDDEN', message: `The key of “${config.name}” cannot be read: ${(err as Error).message}` } };
    }
    if (key === null && !config.keyless) {
      const why = this.keyStorage === 'memory' ? ' This server keeps keys in memory only, so they are gone after a restart.' : '';
      return { answeredBy, notice, error: { code: 'FORBIDDEN', message: `No key is saved for “${config.name}”.${why} Enter it again in App settings → Remote engines.` } };
    }
    const options: RemoteEngineOptions = { ...this.remoteOptions, baseUrl: config.baseUrl, apiKey: key ?? '', model: config.model };
    if (config.sendTopK === false) options.sendTopK = false;
    return { engine: new RemoteEngine(options), answeredBy, notice };
  }

  // ---------------------------------------------------------------------------------------------

  private localEntry(): EngineEntry {
    return { id: LOCAL_ENGINE_ID, kind: 'local', name: 'This computer', baseUrl: null, model: this.local.status().model?.name ?? null, sendTopK: true, keySaved: false, keyless: false };
  }

  private localAnsweredBy(): AnsweredBy {
    const e = this.localEntry();
    return { id: e.id, kind: 'local', name: e.name, model: e.model };
  }

  private async entry(r: RemoteEngineConfig): Promise<EngineEntry> {
    const keySaved = await this.getKey(r.id).then((k) => k !== null, () => false);
    return { id: r.id, kind: 'remote', name: r.name, baseUrl: r.baseUrl, model: r.model, sendTopK: r.sendTopK !== false, keySaved, keyless: r.keyless === true && !keySaved };
  }

  private nameOf(id: string): string {
    return id === LOCAL_ENGINE_ID ? 'This computer' : (this.state.remotes.find((r) => r.id === id)?.name ?? id);
  }

  private remote(id: string): RemoteEngineConfig {
    const r = this.state.remotes.find((x) => x.id === id);
    if (!r) throw notFound();
    return r;
  }

  private assertUniqueName(name: string, exceptId: string | null): void {
    if (this.state.remotes.some((r) => r.id !== exceptId && r.name.toLowerCase() === name.toLowerCase())) {
      throw new AppErrorException({ code: 'INVALID_INPUT', message: `An engine named “${name}” already exists; choose another name` });
    }
  }

  private async getKey(id: string): Promise<string | null> {
    return this.secrets ? this.secrets.get(secretName(id)) : (this.memoryKeys.get(id) ?? null);
  }

  private async setKey(id: string, key: string): Promise<void> {
    if (this.secrets) await this.secrets.set(secretName(id), key);
    else this.memoryKeys.set(id, key);
  }

  private async deleteKey(id: string): Promise<void> {
    this.memoryKeys.delete(id);
    await this.secrets?.delete(secretName(id)).catch(() => false);
  }

  private load(): void {
    if (!this.file || !existsSync(this.file)) return;
    let parsed: EnginesFile | null = null;
    try {
      const result = fileSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
      if (result.success) parsed = result.data;
    } catch {
      parsed = null;
    }
    if (parsed) {
      this.state = parsed;
      // A default that points nowhere (edited by hand) is the local engine.
      if (!this.has(parsed.defaultEngineId)) this.state = { ...parsed, defaultEngineId: LOCAL_ENGINE_ID };
      return;
    }
    // Set aside, not deleted: the user may want to repair it by hand.
    const aside = `${this.file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, aside);
      this.problem = `The remote engine settings (engines.json) were damaged and have been set aside as ${path.basename(aside)}; add your remote engines again.`;
    } catch (err) {
      this.problem = `The remote engine settings (engines.json) are damaged and could not be set aside (${(err as Error).message}); only the local engine is available.`;
    }
  }

  /** Atomic: a crash leaves the old file or the new one, never half of one. */
  private save(next: EnginesFile): void {
    if (this.file) {
      try {
        writePrivateFileSync(this.file, `${JSON.stringify(next, null, 2)}\n`);
      } catch (err) {
        throw new AppErrorException({ code: 'INTERNAL', message: `Cannot save the engine settings: ${(err as Error).message}` });
      }
    }
    this.state = next;
    this.problem = null;
  }
}

const notFound = (): AppErrorException => new AppErrorException({ code: 'NOT_FOUND', message: 'This engine does not exist (it may have been removed)' });

function normalizeBaseUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

export function createEngineRegistry(options: EngineRegistryOptions): EngineRegistry {
  return new EngineRegistry(options);
}
