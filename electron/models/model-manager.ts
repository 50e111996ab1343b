// The model manager: catalog, installed pairs with their status, downloads (pause, resume,
// cancel, resume after restart), imports and the active pair. Used by the backend handlers and
// the headless CLI alike; never imports electron.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, lstat, mkdir, readdir, realpath, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { validateModelFile, validateModelPair, type ModelPairInfo } from '../engine/model-validator';
import { ActionableError, fail, type ErrorCode } from '../shared/errors';
import type {
  CatalogEntry,
  CatalogItem,
  DownloadJob,
  FitDevice,
  ImportRequest,
  InstalledModel,
  ModelFileRole,
  ModelsEvent,
  PullRequest,
} from '../shared/contracts/models';
import { loadCatalog } from './catalog';
import { checkDiskSpace, systemFreeSpace, type FreeSpaceFn } from './disk-space';
import { DEFAULT_FIT_CONTEXT, estimateFit, footprintFromEstimate, footprintFromPair } from './fit';
import { authHeaders, hfFileUrl, hfRepoPage } from './hugging-face';
import { discardPartial, DownloadError, downloadFile, partialBytes, probeRemote, type RetryPolicy } from './range-downloader';
import { ModelRegistry, type RegistryEntry, type RegistryFile } from './registry';

export interface ModelManagerOptions {
  dataDir: string;
  /** Defaults to resources/catalog.json. */
  catalog?: CatalogEntry[];
  freeSpace?: FreeSpaceFn;
  /** Hugging Face token (keychain in the app, env or flag headless); read at each download. */
  hfToken?: () => string | null | Promise<string | null>;
  /** GPUs for the fit estimate. */
  devices?: () => FitDevice[] | null | Promise<FitDevice[] | null>;
  retry?: Partial<RetryPolicy>;
  progressIntervalMs?: number;
}

/** A failure with a stable code, what went wrong and what the user can do. */
/** A pair that "Get FireLLaVA" built from the catalog entry's Hugging Face repository (source "convert:hf:<repo>@<rev>"). */
function isConversionOf(source: string, sourceUrl: string): boolean {
  const m = /^convert:hf:([^@]+)@/.exec(source);
  if (!m) return false;
  const page = hfRepoPage(sourceUrl);
  return page !== null && page.toLowerCase() === hfRepoPage(`https://huggingface.co/${m[1]}`)?.toLowerCase();
}

export class ModelManagerError extends ActionableError {}

interface FileSpec {
  role: ModelFileRole;
  fileName: string;
  url: string;
  size: number | null;
  sha256: string | null;
}

interface Job {
  view: DownloadJob;
  controller: AbortController | null;
  /** Why the controller was aborted. */
  stopping: 'pause' | 'cancel' | null;
  done: Promise<void> | null;
}

const ROLES: ModelFileRole[] = ['model', 'mmproj'];

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/\.gguf$/, '')
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 60) || 'model'
  );
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

function fileNameOf(url: string): string {
  const last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  return /^[\w.-]+$/.test(last) && last.length > 0 ? last : `${shortHash(url)}.gguf`;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Size and modification time of both files: what a broken mark is tied to. */
async function pairIdentity(files: string[]): Promise<string> {
  const parts = await Promise.all(files.map((f) => stat(f).then((s) => `${s.size}:${s.mtimeMs}`, () => 'gone')));
  return parts.join('|');
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch {
    return null;
  }
}

function errorAction(err: DownloadError, licenseUrl: string | null): { code: ErrorCode; action: string | null } {
  switch (err.code) {
    case 'GATED':
      return { code: 'FORBIDDEN', action: null }; // the message already says what to do
    case 'NOT_FOUND':
      return { code: 'NOT_FOUND', action: 'Check the repository and file name.' };
    case 'CHECKSUM_MISMATCH':
    case 'SIZE_MISMATCH':
      return { code: 'MODEL_INVALID', action: 'Pull it again; if it keeps failing, the source changed or the checksum is wrong.' };
    case 'NETWORK':
      return { code: 'INTERNAL', action: 'Check the connection and resume: the bytes so far are kept.' };
    case 'ABORTED':
      return { code: 'CANCELLED', action: null };
    default:
      return { code: 'INTERNAL', action: licenseUrl ? `See ${licenseUrl}.` : null };
  }
}

export class ModelManager {
  readonly registry: ModelRegistry;
  private catalogCache: CatalogEntry[] | null;
  private readonly freeSpace: FreeSpaceFn;
  private readonly jobs = new Map<string, Job>();
  private readonly listeners = new Set<(e: ModelsEvent) => void>();
  private readonly firstActiveListeners = new Set<(id: string) => void>();
  private readonly validation = new Map<string, Promise<{ ok: true; info: ModelPairInfo } | { ok: false; message: string }>>();

  constructor(private readonly options: ModelManagerOptions) {
    this.registry = new ModelRegistry(options.dataDir);
    this.catalogCache = options.catalog ?? null;
    this.freeSpace = options.freeSpace ?? systemFreeSpace;
  }

  // ---------------------------------------------------------------- events

  onEvent(listener: (e: ModelsEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A pair became active because none was (import, pull, conversion without "activate"): nobody
   * asked to load it, so the backend loads it here. models.setActive loads on its own.
   */
  onFirstActive(listener: (id: string) => void): () => void {
    this.firstActiveListeners.add(listener);
    return () => this.firstActiveListeners.delete(listener);
  }

  private emitFirstActive(id: string): void {
    for (const l of this.firstActiveListeners) l(id);
  }

  private emit(e: ModelsEvent): void {
    for (const l of this.listeners) l(e);
  }

  jobList(): DownloadJob[] {
    return [...this.jobs.values()].map((j) => structuredClone(j.view));
  }

  private publish(job: Job): void {
    this.emit({ type: 'job', job: structuredClone(job.view) });
  }

  // ---------------------------------------------------------------- catalog, list, fit

  async catalog(): Promise<CatalogEntry[]> {
    this.catalogCache ??= await loadCatalog();
    return this.catalogCache;
  }

  /** null: not known yet. */
  private async devices(): Promise<FitDevice[] | null> {
    return this.options.devices ? this.options.devices() : [];
  }

  async catalogItems(nCtx = DEFAULT_FIT_CONTEXT): Promise<CatalogItem[]> {
    const [entries, devices, data] = await Promise.all([this.catalog(), this.devices(), this.registry.read()]);
    return entries.map((entry) => ({
      entry,
      installed: data.models.some((m) => m.complete && (m.id === entry.id || isConversionOf(m.source, entry.sourceUrl))),
      fit: estimateFit(footprintFromEstimate(entry.estimate), devices, nCtx, true),
    }));
  }

  /** Validation is cached per file identity (path, size, mtime): headers of big files are read once. */
  private async validate(modelPath: string, mmprojPath: string): Promise<{ ok: true; info: ModelPairInfo } | { ok: false; message: string }> {
    const ident = async (p: string): Promise<string> => {
      const s = await stat(p);
      return `${p}:${s.size}:${s.mtimeMs}`;
    };
    const key = `${await ident(modelPath)}|${await ident(mmprojPath)}`;
    let v = this.validation.get(key);
    if (!v) {
      v = validateModelPair({ model: modelPath, mmproj: mmprojPath }).then((r) => (r.ok ? { ok: true as const, info: r.value } : { ok: false as const, message: r.error.message }));
      this.validation.set(key, v);
    }
    return v;
  }

  private async describe(entry: RegistryEntry, active: string | null, devices: FitDevice[] | null, nCtx: number): Promise<InstalledModel> {
    const files = await Promise.all(
      entry.files.map(async (f) => {
        const p = this.registry.pathOf(entry.id, f.fileName);
        const full = await sizeOf(p);
        const bytes = full ?? (await partialBytes(p));
        return { role: f.role, fileName: f.fileName, path: p, bytes, sha256: f.sha256, present: full !== null, linked: f.linked };
      }),
    );
    let diskBytes = 0;
    for (const f of files) {
      // A symlink takes no space here; a hard link shares its blocks with the original.
      if (f.linked !== 'symlink') diskBytes += f.bytes;
    }
    const base = { id: entry.id, name: entry.name, source: entry.source, files, diskBytes, active: active === entry.id, addedAt: entry.addedAt };
    const downloading = this.jobs.get(entry.id);
    if (!entry.complete) {
      const state = downloading?.view.state;
      const problem =
        state === 'downloading' || state === 'checking' || state === 'verifying'
          ? 'Downloading'
          : downloading?.view.error
            ? downloading.view.error.message
            : 'Download not finished: resume it to fetch the rest (the bytes so far are kept)';
      return { ...base, status: 'incomplete', problem, fit: null };
    }
    const missing = files.filter((f) => !f.present);
    if (missing.length > 0) {
      return {
        ...base,
        status: 'missing',
        problem: `${missing.map((f) => `${f.role === 'model' ? 'Model' : 'Vision projector'} file ${f.fileName}`).join(' and ')} is gone from ${this.registry.dirOf(entry.id)}: pull or import it again, or delete this entry`,
        fit: null,
      };
    }
    const model = files.find((f) => f.role === 'model') as (typeof files)[number];
    const mmproj = files.find((f) => f.role === 'mmproj') as (typeof files)[number];
    const v = await this.validate(model.path, mmproj.path);
    if (!v.ok) return { ...base, status: 'invalid', problem: v.message, fit: null };
    if (entry.broken && entry.broken.files === (await pairIdentity([model.path, mmproj.path]))) {
      return { ...base, status: 'broken', problem: `${entry.broken.message} Delete it and pull or import it again.`, fit: null };
    }
    return { ...base, status: 'ready', problem: null, fit: estimateFit(footprintFromPair(v.info), devices, nCtx) };
  }

  async list(nCtx = DEFAULT_FIT_CONTEXT): Promise<InstalledModel[]> {
    const [data, devices] = await Promise.all([this.registry.read(), this.devices()]);
    return Promise.all(data.models.map((m) => this.describe(m, data.active, devices, nCtx)));
  }

  async get(id: string): Promise<InstalledModel> {
    const found = (await this.list()).find((m) => m.id === id);
    if (!found) throw new ModelManagerError('NOT_FOUND', 'UNKNOWN_MODEL', `No installed model "${id}"`);
    return found;
  }

  /** The active pair if it is ready; else the only ready pair; else null. */
  async activePair(): Promise<{ model: InstalledModel; paths: { model: string; mmproj: string } } | null> {
    const all = await this.list();
    const ready = all.filter((m) => m.status === 'ready');
    const chosen = ready.find((m) => m.active) ?? (ready.length === 1 ? ready[0] : undefined);
    if (!chosen) return null;
    const p = (role: ModelFileRole): string => (chosen.files.find((f) => f.role === role) as { path: string }).path;
    return { model: chosen, paths: { model: p('model'), mmproj: p('mmproj') } };
  }

  async setActive(id: string): Promise<InstalledModel> {
    const m = await this.get(id);
    if (m.status !== 'ready') throw new ModelManagerError('MODEL_INVALID', 'NOT_READY', `${m.name} is not ready: ${m.problem ?? m.status}`);
    await this.registry.setActive(id);
    this.emit({ type: 'installed' });
    return { ...m, active: true };
  }

  /**
   * The engine gave up on a pair that crashed it twice: the installed entry with these files says so
   * (and is no longer offered as ready) until its files change.
   */
  async markBroken(pair: { model: string; mmproj: string | null }, message: string): Promise<void> {
    const data = await this.registry.read();
    const pathOf = (m: RegistryEntry, role: ModelFileRole): string | null => {
      const f = m.files.find((x) => x.role === role);
      return f ? this.registry.pathOf(m.id, f.fileName) : null;
    };
    const entry = data.models.find((m) => pathOf(m, 'model') === pair.model && pathOf(m, 'mmproj') === pair.mmproj);
    if (!entry) return; // a pair loaded from outside the library (serve --model)
    const files = await pairIdentity([pair.model, pair.mmproj ?? '']);
    await this.registry.update((d) => {
      const m = d.models.find((x) => x.id === entry.id);
      if (m) m.broken = { message, files, at: new Date().toISOString() };
    });
    this.emit({ type: 'installed' });
  }

  async remove(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (job && job.view.state !== 'done' && job.view.state !== 'error' && job.view.state !== 'cancelled') await this.cancel(id);
    const entry = await this.registry.get(id);
    if (!entry) throw new ModelManagerError('NOT_FOUND', 'UNKNOWN_MODEL', `No installed model "${id}"`);
    await rm(this.registry.dirOf(id), { recursive: true, force: true });
    await this.registry.remove(id);
    this.jobs.delete(id);
    this.emit({ type: 'installed' });
  }

  // ---------------------------------------------------------------- downloads

  private async resolvePull(req: PullRequest): Promise<{ id: string; name: string; source: string; licenseUrl: string | null; files: FileSpec[] }> {
    if ('catalogId' in req) {
      const entry = (await this.catalog()).find((e) => e.id === req.catalogId);
      if (!entry) throw new ModelManagerError('NOT_FOUND', 'UNKNOWN_CATALOG_ID', `No catalog entry "${req.catalogId}"`);
      if (!entry.downloadable) {
        throw new ModelManagerError('NOT_FOUND', 'NOT_DOWNLOADABLE', `${entry.name} cannot be downloaded from the catalog: ${entry.note}`);
      }
      const files = ROLES.map((role) => {
        const f = entry.files.find((x) => x.role === role) as CatalogEntry['files'][number];
        return { role, fileName: f.fileName, url: f.url as string, size: f.size, sha256: f.sha256 };
      });
      return { id: entry.id, name: entry.name, source: `catalog:${entry.id}`, licenseUrl: entry.sourceUrl, files };
    }
    if ('hfRepo' in req) {
      const revision = req.revision ?? 'main';
      const modelUrl = hfFileUrl(req.hfRepo, req.modelFile, revision);
      const mmprojUrl = hfFileUrl(req.hfRepo, req.mmprojFile, revision);
      const base = path.posix.basename(req.modelFile);
      return {
        id: `${slug(base)}-${shortHash(`${modelUrl}\n${mmprojUrl}`)}`,
        name: req.name ?? `${req.hfRepo} ${base}`,
        source: `hf:${req.hfRepo}`,
        licenseUrl: `https://huggingface.co/${req.hfRepo}`,
        files: [
          { role: 'model', fileName: fileNameOf(modelUrl), url: modelUrl, size: null, sha256: req.sha256Model?.toLowerCase() ?? null },
          { role: 'mmproj', fileName: fileNameOf(mmprojUrl), url: mmprojUrl, size: null, sha256: req.sha256Mmproj?.toLowerCase() ?? null },
        ],
      };
    }
    const modelName = fileNameOf(req.modelUrl);
    let mmprojName = fileNameOf(req.mmprojUrl);
    if (mmprojName === modelName) mmprojName = `mmproj-${mmprojName}`;
    return {
      id: `${slug(modelName)}-${shortHash(`${req.modelUrl}\n${req.mmprojUrl}`)}`,
      name: req.name ?? modelName.replace(/\.gguf$/i, ''),
      source: 'url',
      licenseUrl: hfRepoPage(req.modelUrl),
      files: [
        { role: 'model', fileName: modelName, url: req.modelUrl, size: null, sha256: req.sha256Model?.toLowerCase() ?? null },
        { role: 'mmproj', fileName: mmprojName, url: req.mmprojUrl, size: null, sha256: req.sha256Mmproj?.toLowerCase() ?? null },
      ],
    };
  }

  private newJobView(id: string, name: string, files: FileSpec[]): DownloadJob {
    return {
      id,
      name,
      state: 'checking',
      files: files.map((f) => ({ role: f.role, fileName: f.fileName, receivedBytes: 0, totalBytes: f.size, bytesPerSecond: 0, etaSeconds: null, done: false })),
      total: { receivedBytes: 0, totalBytes: null, bytesPerSecond: 0, etaSeconds: null },
      error: null,
    };
  }

  private updateTotal(view: DownloadJob): void {
    const totals = view.files.map((f) => f.totalBytes);
    const received = view.files.reduce((s, f) => s + f.receivedBytes, 0);
    const total = totals.every((t) => t !== null) ? (totals as number[]).reduce((s, t) => s + t, 0) : null;
    const speed = view.files.reduce((s, f) => s + (f.done ? 0 : f.bytesPerSecond), 0);
    view.total = { receivedBytes: received, totalBytes: total, bytesPerSecond: speed, etaSeconds: total !== null && speed > 0 ? (total - received) / speed : null };
  }

  /**
   * Checks access and disk space, registers the pair and starts downloading in the background.
   * Resolves with the job once the checks pass; progress and the outcome come as events.
   */
  async startPull(req: PullRequest): Promise<DownloadJob> {
    const plan = await this.resolvePull(req);
    const existing = this.jobs.get(plan.id);
    if (existing && (existing.view.state === 'downloading' || existing.view.state === 'checking' || existing.view.state === 'verifying')) return structuredClone(existing.view);
    const prior = await this.registry.get(plan.id);
    if (prior?.complete) {
      const m = await this.get(plan.id);
      if (m.status === 'ready') throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `${m.name} is already installed and ready`);
    }
    const job: Job = { view: this.newJobView(plan.id, plan.name, plan.files), controller: new AbortController(), stopping: null, done: null };
    this.jobs.set(plan.id, job);
    this.publish(job);
    try {
      await this.registry.upsert({
        id: plan.id,
        name: plan.name,
        source: plan.source,
        licenseUrl: plan.licenseUrl,
        complete: false,
        addedAt: prior?.addedAt ?? new Date().toISOString(),
        files: plan.files.map((f): RegistryFile => ({ role: f.role, fileName: f.fileName, url: f.url, size: f.size, expectedSha256: f.sha256, sha256: null, linked: 'download' })),
      });
      this.emit({ type: 'installed' });
      await this.preflight(plan, job);
    } catch (err) {
      // Refused before any byte arrived (no access, no such file, no space): leave nothing behind.
      if (!prior) {
        await this.registry.remove(plan.id);
        await rm(this.registry.dirOf(plan.id), { recursive: true, force: true });
      }
      this.fail(job, err, plan.licenseUrl);
      if (err instanceof DownloadError && err.code === 'NETWORK' && job.view.error) {
        job.view.error.action = 'Check the address and the connection, then try again.';
        this.publish(job);
      }
      throw err instanceof DownloadError ? this.toManagerError(err, plan.licenseUrl, job.view.error?.action) : err;
    }
    job.done = this.run(plan, job);
    return structuredClone(job.view);
  }

  /** Starts a pull and waits for the verified pair (the CLI's path). */
  async pull(req: PullRequest): Promise<InstalledModel> {
    const job = await this.startPull(req);
    await this.jobs.get(job.id)?.done;
    const view = this.jobs.get(job.id)?.view;
    if (view?.state !== 'done') {
      const e = view?.error;
      throw new ModelManagerError(e?.code ?? 'INTERNAL', e?.reason ?? 'FAILED', e?.message ?? `Download ${view?.state ?? 'failed'}`, e?.action ?? null);
    }
    return this.get(job.id);
  }

  private toManagerError(err: DownloadError, licenseUrl: string | null, actionOverride?: string | null): ModelManagerError {
    const { code, action } = errorAction(err, licenseUrl);
    return new ModelManagerError(code, err.code, err.message, actionOverride ?? action);
  }

  private fail(job: Job, err: unknown, licenseUrl: string | null): void {
    if (err instanceof DownloadError) {
      const { code, action } = errorAction(err, licenseUrl);
      job.view.error = { code, reason: err.code, message: err.message, action };
    } else if (err instanceof ModelManagerError) {
      job.view.error = { code: err.code, reason: err.reason, message: err.message, action: err.action };
    } else {
      job.view.error = { code: 'INTERNAL', reason: 'INTERNAL', message: err instanceof Error ? err.message : String(err), action: null };
    }
    job.view.state = 'error';
    this.publish(job);
    this.emit({ type: 'installed' });
  }

  private async preflight(plan: { id: string; licenseUrl: string | null; files: FileSpec[] }, job: Job): Promise<void> {
    const token = (await this.options.hfToken?.()) ?? null;
    let remaining = 0;
    for (const [i, f] of plan.files.entries()) {
      const dest = this.registry.pathOf(plan.id, f.fileName);
      const have = (await sizeOf(dest)) ?? (await partialBytes(dest));
      if (f.size === null || (await sizeOf(dest)) === null) {
        const { size } = await probeRemote(
          { url: f.url, headers: authHeaders(f.url, token), licenseUrl: plan.licenseUrl, size: f.size },
          { signal: job.controller?.signal, retry: this.options.retry },
        );
        if (f.size !== null && size !== null && size !== f.size) {
          throw new DownloadError('SIZE_MISMATCH', `${f.fileName} is ${size} bytes on the server, expected ${f.size}`);
        }
        f.size ??= size;
      }
      const view = job.view.files[i];
      if (view) {
        view.totalBytes = f.size;
        view.receivedBytes = have;
      }
      if (f.size !== null) remaining += Math.max(0, f.size - have);
    }
    this.updateTotal(job.view);
    await mkdir(this.registry.dirOf(plan.id), { recursive: true });
    const problem = await checkDiskSpace(this.registry.dirOf(plan.id), remaining, this.freeSpace);
    if (problem) throw new ModelManagerError('INVALID_INPUT', 'DISK_FULL', problem);
    job.view.state = 'downloading';
    this.publish(job);
  }

  private async run(plan: { id: string; name: string; licenseUrl: string | null; files: FileSpec[] }, job: Job): Promise<void> {
    const signal = (job.controller as AbortController).signal;
    const token = (await this.options.hfToken?.()) ?? null;
    const measured: Record<string, string> = {};
    try {
      for (const [i, f] of plan.files.entries()) {
        const view = job.view.files[i] as DownloadJob['files'][number];
        const dest = this.registry.pathOf(plan.id, f.fileName);
        if ((await sizeOf(dest)) !== null) {
          // Finished in an earlier run: it was verified before the rename.
          const entry = await this.registry.get(plan.id);
          measured[f.role] = entry?.files.find((x) => x.role === f.role)?.sha256 ?? (await sha256File(dest));
          view.receivedBytes = view.totalBytes = (await sizeOf(dest)) ?? 0;
          view.done = true;
          continue;
        }
        const r = await downloadFile(
          { url: f.url, dest, size: f.size, sha256: f.sha256, headers: authHeaders(f.url, token), licenseUrl: plan.licenseUrl },
          {
            signal,
            retry: this.options.retry,
            progressIntervalMs: this.options.progressIntervalMs ?? 250,
            onProgress: (p) => {
              Object.assign(view, p);
              this.updateTotal(job.view);
              this.publish(job);
            },
          },
        );
        measured[f.role] = r.sha256;
        view.done = true;
        view.bytesPerSecond = 0;
        view.etaSeconds = 0;
        await this.registry.update((d) => {
          const rf = d.models.find((m) => m.id === plan.id)?.files.find((x) => x.role === f.role);
          if (rf) {
            rf.sha256 = r.sha256;
            rf.size = r.size;
          }
        });
      }
      job.view.state = 'verifying';
      this.updateTotal(job.view);
      this.publish(job);
      const paths = ROLES.map((role) => this.registry.pathOf(plan.id, (plan.files.find((f) => f.role === role) as FileSpec).fileName));
      const v = await this.validate(paths[0] as string, paths[1] as string);
      if (!v.ok) throw new ModelManagerError('MODEL_INVALID', 'PAIR_INVALID', `Downloaded, but not a usable pair: ${v.message}`, 'Delete it and choose a matching model and projector.');
      let first = false;
      await this.registry.update((d) => {
        const m = d.models.find((x) => x.id === plan.id);
        if (m) m.complete = true;
        first = d.active == null;
        d.active ??= plan.id;
      });
      job.view.state = 'done';
      this.updateTotal(job.view);
      this.publish(job);
      this.emit({ type: 'installed' });
      if (first) this.emitFirstActive(plan.id);
    } catch (err) {
      if (job.stopping === 'pause') {
        job.view.state = 'paused';
        for (const f of job.view.files) {
          f.bytesPerSecond = 0;
          f.etaSeconds = null;
        }
        this.updateTotal(job.view);
        this.publish(job);
        return;
      }
      if (job.stopping === 'cancel') return; // cancel() cleans up and reports
      this.fail(job, err, plan.licenseUrl);
    } finally {
      job.controller = null;
    }
  }

  private requireJob(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new ModelManagerError('NOT_FOUND', 'NO_DOWNLOAD', `No download for "${id}"`);
    return job;
  }

  async pause(id: string): Promise<DownloadJob> {
    const job = this.requireJob(id);
    if (job.controller && job.view.state !== 'done') {
      job.stopping = 'pause';
      job.controller.abort();
      await job.done;
    }
    return structuredClone(job.view);
  }

  /** Resumes a paused or failed download, also one left by an earlier run of the app. */
  async resume(id: string): Promise<DownloadJob> {
    const entry = await this.registry.get(id);
    if (!entry) throw new ModelManagerError('NOT_FOUND', 'UNKNOWN_MODEL', `No download for "${id}"`);
    if (entry.complete) throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `${entry.name} is already downloaded`);
    const job = this.jobs.get(id);
    if (job?.controller) return structuredClone(job.view);
    const [model, mmproj] = ROLES.map((role) => entry.files.find((f) => f.role === role) as RegistryFile);
    if (!model?.url || !mmproj?.url) throw new ModelManagerError('INVALID_INPUT', 'NOT_DOWNLOADABLE', `${entry.name} was not downloaded, so it cannot be resumed`);
    return this.startWithEntry(entry);
  }

  private async startWithEntry(entry: RegistryEntry): Promise<DownloadJob> {
    const files: FileSpec[] = ROLES.map((role) => {
      const f = entry.files.find((x) => x.role === role) as RegistryFile;
      return { role, fileName: f.fileName, url: f.url as string, size: f.size, sha256: f.expectedSha256 };
    });
    const plan = { id: entry.id, name: entry.name, licenseUrl: entry.licenseUrl, files };
    const job: Job = { view: this.newJobView(entry.id, entry.name, files), controller: new AbortController(), stopping: null, done: null };
    this.jobs.set(entry.id, job);
    this.publish(job);
    try {
      await this.preflight(plan, job);
    } catch (err) {
      this.fail(job, err, plan.licenseUrl);
      throw err instanceof DownloadError ? this.toManagerError(err, plan.licenseUrl) : err;
    }
    job.done = this.run(plan, job);
    return structuredClone(job.view);
  }

  /** Stops the download and removes its partial files and its registry entry. */
  async cancel(id: string): Promise<DownloadJob> {
    const entry = await this.registry.get(id);
    const job = this.jobs.get(id) ?? (entry && !entry.complete ? { view: this.newJobView(id, entry.name, []), controller: null, stopping: null, done: null } : null);
    if (!job) throw new ModelManagerError('NOT_FOUND', 'NO_DOWNLOAD', `No download for "${id}"`);
    if (job.view.state === 'done') throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `${job.view.name} is already downloaded: delete it instead`);
    job.stopping = 'cancel';
    job.controller?.abort();
    await job.done;
    if (entry && !entry.complete) {
      for (const f of entry.files) await discardPartial(this.registry.pathOf(id, f.fileName));
      await rm(this.registry.dirOf(id), { recursive: true, force: true });
      await this.registry.remove(id);
    }
    job.view.state = 'cancelled';
    this.jobs.set(id, job);
    this.publish(job);
    this.emit({ type: 'installed' });
    return structuredClone(job.view);
  }

  // ---------------------------------------------------------------- converted pairs

  /** The Hugging Face token as downloads see it (keychain, environment or flag); never logged. */
  async hfToken(): Promise<string | null> {
    return (await this.options.hfToken?.()) ?? null;
  }

  /** Free bytes where models go (injected in tests). */
  freeBytes(dir: string = this.registry.modelsDir): Promise<number> {
    return this.freeSpace(dir);
  }

  /**
   * Registers a pair that was written into this model's own folder (the "Get FireLLaVA"
   * conversion): validated first, so a partial or broken output never becomes an installed model.
   */
  async installConverted(req: { id: string; name: string; source: string; licenseUrl: string | null; modelFile: string; mmprojFile: string; activate: boolean }): Promise<InstalledModel> {
    const paths = { model: this.registry.pathOf(req.id, req.modelFile), mmproj: this.registry.pathOf(req.id, req.mmprojFile) };
    const v = await validateModelPair(paths);
    if (!v.ok) throw new ModelManagerError('MODEL_INVALID', 'PAIR_INVALID', `The converted pair is not usable: ${v.error.message}`, 'Convert it again.');
    const file = (role: ModelFileRole, fileName: string, bytes: number): RegistryFile => ({ role, fileName, url: null, size: bytes, expectedSha256: null, sha256: null, linked: 'copy' });
    let first = false;
    await this.registry.update((d) => {
      d.models = d.models.filter((m) => m.id !== req.id);
      d.models.push({
        id: req.id,
        name: req.name,
        source: req.source,
        licenseUrl: req.licenseUrl,
        files: [file('model', req.modelFile, v.value.model.fileBytes), file('mmproj', req.mmprojFile, v.value.mmproj?.fileBytes ?? 0)],
        complete: true,
        addedAt: new Date().toISOString(),
      });
      first = !req.activate && d.active == null;
      if (req.activate) d.active = req.id;
      else d.active ??= req.id;
    });
    this.emit({ type: 'installed' });
    if (first) this.emitFirstActive(req.id);
    return this.get(req.id);
  }

  // ---------------------------------------------------------------- import

  /** Validates a local pair, then copies or links it into the models folder. */
  async importLocal(req: ImportRequest): Promise<InstalledModel> {
    const modelPath = path.resolve(req.modelPath);
    const mmprojPath = path.resolve(req.mmprojPath);
    for (const [p, role] of [
      [modelPath, 'Model'],
      [mmprojPath, 'Vision projector'],
    ] as const) {
      const s = await stat(p).catch(() => null);
      if (!s?.isFile()) throw new ModelManagerError('NOT_FOUND', 'FILE_NOT_FOUND', `${role} file not found: ${p}`);
    }
    // Each file on its own first, so the message names the file that is wrong.
    const m = await validateModelFile(modelPath, 'model');
    if (!m.ok) throw new ModelManagerError('MODEL_INVALID', 'MODEL_INVALID', m.error.message);
    const v = await validateModelPair({ model: modelPath, mmproj: mmprojPath });
    if (!v.ok) throw new ModelManagerError('MODEL_INVALID', 'PAIR_INVALID', v.error.message);

    const mode = req.mode ?? 'copy';
    const modelName = path.basename(modelPath);
    let mmprojName = path.basename(mmprojPath);
    if (mmprojName === modelName) mmprojName = `mmproj-${mmprojName}`;
    const id = `${slug(modelName)}-${shortHash(`${await realpath(modelPath)}\n${await realpath(mmprojPath)}`)}`;
    if (await this.registry.get(id)) throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `This pair is already installed as "${id}"`);
    const dir = this.registry.dirOf(id);
    if (mode === 'copy') {
      const sizes = (await stat(modelPath)).size + (await stat(mmprojPath)).size;
      await mkdir(this.registry.modelsDir, { recursive: true });
      const problem = await checkDiskSpace(this.registry.modelsDir, sizes, this.freeSpace);
      if (problem) throw new ModelManagerError('INVALID_INPUT', 'DISK_FULL', problem.replace('the download needs', 'the copy needs'));
    }
    await mkdir(dir, { recursive: true });
    const files: RegistryFile[] = [];
    try {
      for (const [role, src, name] of [
        ['model', modelPath, modelName],
        ['mmproj', mmprojPath, mmprojName],
      ] as const) {
        const dest = path.join(dir, name);
        await unlink(dest).catch(() => undefined);
        if (mode === 'copy') {
          // Temp name + rename: a crash mid-copy never leaves a file that looks complete.
          await copyFile(src, `${dest}.part`);
          await rename(`${dest}.part`, dest);
        } else if (mode === 'hardlink') {
          try {
            await link(src, dest);
          } catch (err) {
            throw new ModelManagerError(
              'INVALID_INPUT',
              'LINK_FAILED',
              `Cannot hard-link ${src} into ${dir} (${(err as NodeJS.ErrnoException).code}): hard links only work on the same drive. Choose copy or symbolic link.`,
            );
          }
        } else {
          await symlink(src, dest);
        }
        files.push({ role, fileName: name, url: null, size: (await stat(src)).size, expectedSha256: null, sha256: mode === 'copy' ? await sha256File(dest) : null, linked: mode });
      }
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    let first = false;
    await this.registry.update((d) => {
      d.models.push({ id, name: req.name ?? v.value.model.name, source: 'import', licenseUrl: null, files, complete: true, addedAt: new Date().toISOString() });
      first = d.active == null;
      d.active ??= id;
    });
    this.emit({ type: 'installed' });
    if (first) this.emitFirstActive(id);
    return this.get(id);
  }

  /** Partial files left in model folders that the registry does not know (for cleanup). */
  async strayFiles(): Promise<string[]> {
    const data = await this.registry.read();
    const known = new Set(data.models.map((m) => m.id));
    const entries = await readdir(this.registry.modelsDir).catch(() => [] as string[]);
    const out: string[] = [];
    for (const name of entries) {
      const p = path.join(this.registry.modelsDir, name);
      if (!known.has(name) && (await lstat(p)).isDirectory()) out.push(p);
    }
    return out;
  }

  /** Waits for every running download to stop (used on shutdown and in tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }
}
