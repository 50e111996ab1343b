// The installed pairs: what each one is (ready, incomplete, missing, invalid, broken) with its fit,
// the catalog beside them, the active pair, and the one place a finished pair is registered.
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { validateModelPair, type ModelPairInfo } from '../engine/model-validator';
import type { CatalogEntry, CatalogItem, DownloadJob, FitDevice, InstalledModel, ModelFileRole } from '../shared/contracts/models';
import { loadCatalog } from './catalog';
import { isRunning } from './download-job-view';
import { DEFAULT_FIT_CONTEXT, estimateFit, footprintFromEstimate, footprintFromPair } from './fit';
import { hfRepoPage } from './hugging-face';
import type { ModelEvents } from './model-events';
import { pairIdentity, sizeOf } from './model-files';
import { ModelManagerError } from './model-manager-error';
import { partialBytes } from './part-file';
import type { ModelRegistry, RegistryData, RegistryEntry, RegistryFile } from './registry';

export type PairCheck = { ok: true; info: ModelPairInfo } | { ok: false; message: string };

export interface ModelLibraryOptions {
  /** Defaults to resources/catalog.json. */
  catalog?: CatalogEntry[];
  /** GPUs for the fit estimate. */
  devices?: () => FitDevice[] | null | Promise<FitDevice[] | null>;
  /** The download job of a pair, for what an unfinished entry says. */
  jobOf: (id: string) => DownloadJob | undefined;
}

/** A pair that "Get FireLLaVA" built from the catalog entry's Hugging Face repository (source "convert:hf:<repo>@<rev>"). */
function isConversionOf(source: string, sourceUrl: string): boolean {
  const m = /^convert:hf:([^@]+)@/.exec(source);
  if (!m) return false;
  const page = hfRepoPage(sourceUrl);
  return page !== null && page.toLowerCase() === hfRepoPage(`https://huggingface.co/${m[1]}`)?.toLowerCase();
}

export class ModelLibrary {
  private catalogCache: CatalogEntry[] | null;
  private readonly validation = new Map<string, Promise<PairCheck>>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly events: ModelEvents,
    private readonly options: ModelLibraryOptions,
  ) {
    this.catalogCache = options.catalog ?? null;
  }

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
  async validate(modelPath: string, mmprojPath: string): Promise<PairCheck> {
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
    if (!entry.complete) {
      const job = this.options.jobOf(entry.id);
      const problem = isRunning(job?.state)
        ? 'Downloading'
        : job?.error
          ? job.error.message
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
    this.events.emit({ type: 'installed' });
    return { ...m, active: true };
  }

  /**
   * Writes a finished pair into the registry. It becomes active when asked, or when none is: then
   * nobody asked to load it, so listeners of onFirstActive are told. `written` runs between the
   * write and the events (a job reports itself done first).
   */
  async register(id: string, write: (d: RegistryData) => void, opts: { activate?: boolean; written?: () => void } = {}): Promise<void> {
    let first = false;
    await this.registry.update((d) => {
      write(d);
      first = !opts.activate && d.active == null;
      if (opts.activate) d.active = id;
      else d.active ??= id;
    });
    opts.written?.();
    this.events.emit({ type: 'installed' });
    if (first) this.events.emitFirstActive(id);
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
    await this.register(
      req.id,
      (d) => {
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
      },
      { activate: req.activate },
    );
    return this.get(req.id);
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
    this.events.emit({ type: 'installed' });
  }

  /** Deletes an installed pair's folder and entry (a running download is cancelled first by the caller). */
  async remove(id: string): Promise<void> {
    const entry = await this.registry.get(id);
    if (!entry) throw new ModelManagerError('NOT_FOUND', 'UNKNOWN_MODEL', `No installed model "${id}"`);
    await this.registry.removeWithFolder(id);
    this.events.emit({ type: 'installed' });
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
}
