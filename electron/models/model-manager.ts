// The model manager: one face over the library of installed pairs (model-library.ts), the
// download jobs (download-jobs.ts) and local import (model-import.ts). Used by the backend
// handlers and the headless CLI alike; never imports electron.
import type { CatalogEntry, CatalogItem, DownloadJob, FitDevice, ImportRequest, InstalledModel, ModelsEvent, PullRequest } from '../shared/contracts/models';
import { systemFreeSpace, type FreeSpaceFn } from './disk-space';
import { DownloadJobs } from './download-jobs';
import { DEFAULT_FIT_CONTEXT } from './fit';
import { ModelEvents } from './model-events';
import { importLocal } from './model-import';
import { ModelLibrary } from './model-library';
import type { RetryPolicy } from './range-downloader';
import { ModelRegistry } from './registry';

export { ModelManagerError } from './model-manager-error';

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

export class ModelManager {
  readonly registry: ModelRegistry;
  private readonly freeSpace: FreeSpaceFn;
  private readonly events = new ModelEvents();
  private readonly library: ModelLibrary;
  private readonly jobs: DownloadJobs;

  constructor(private readonly options: ModelManagerOptions) {
    this.registry = new ModelRegistry(options.dataDir);
    this.freeSpace = options.freeSpace ?? systemFreeSpace;
    this.library = new ModelLibrary(this.registry, this.events, { catalog: options.catalog, devices: options.devices, jobOf: (id) => this.jobs.view(id) });
    this.jobs = new DownloadJobs(this.registry, this.library, this.events, {
      freeSpace: this.freeSpace,
      hfToken: options.hfToken,
      retry: options.retry,
      progressIntervalMs: options.progressIntervalMs,
    });
  }

  onEvent(listener: (e: ModelsEvent) => void): () => void {
    return this.events.onEvent(listener);
  }

  /**
   * A pair became active because none was (import, pull, conversion without "activate"): nobody
   * asked to load it, so the backend loads it here. models.setActive loads on its own.
   */
  onFirstActive(listener: (id: string) => void): () => void {
    return this.events.onFirstActive(listener);
  }

  // library
  catalog(): Promise<CatalogEntry[]> {
    return this.library.catalog();
  }
  catalogItems(nCtx = DEFAULT_FIT_CONTEXT): Promise<CatalogItem[]> {
    return this.library.catalogItems(nCtx);
  }
  list(nCtx = DEFAULT_FIT_CONTEXT): Promise<InstalledModel[]> {
    return this.library.list(nCtx);
  }
  get(id: string): Promise<InstalledModel> {
    return this.library.get(id);
  }
  activePair(): Promise<{ model: InstalledModel; paths: { model: string; mmproj: string } } | null> {
    return this.library.activePair();
  }
  setActive(id: string): Promise<InstalledModel> {
    return this.library.setActive(id);
  }
  markBroken(pair: { model: string; mmproj: string | null }, message: string): Promise<void> {
    return this.library.markBroken(pair, message);
  }
  installConverted(req: Parameters<ModelLibrary['installConverted']>[0]): Promise<InstalledModel> {
    return this.library.installConverted(req);
  }
  strayFiles(): Promise<string[]> {
    return this.library.strayFiles();
  }

  async remove(id: string): Promise<void> {
    await this.jobs.stopFor(id);
    await this.library.remove(id);
    this.jobs.forget(id);
  }

  // downloads
  jobList(): DownloadJob[] {
    return this.jobs.list();
  }
  startPull(req: PullRequest): Promise<DownloadJob> {
    return this.jobs.startPull(req);
  }
  pull(req: PullRequest): Promise<InstalledModel> {
    return this.jobs.pull(req);
  }
  pause(id: string): Promise<DownloadJob> {
    return this.jobs.pause(id);
  }
  resume(id: string): Promise<DownloadJob> {
    return this.jobs.resume(id);
  }
  cancel(id: string): Promise<DownloadJob> {
    return this.jobs.cancel(id);
  }
  /** Waits for every running download to stop (used on shutdown and in tests). */
  idle(): Promise<void> {
    return this.jobs.idle();
  }

  // import
  importLocal(req: ImportRequest): Promise<InstalledModel> {
    return importLocal(this.registry, this.library, this.freeSpace, req);
  }

  /** The Hugging Face token as downloads see it (keychain, environment or flag); never logged. */
  async hfToken(): Promise<string | null> {
    return (await this.options.hfToken?.()) ?? null;
  }

  /** Free bytes where models go (injected in tests). */
  freeBytes(dir: string = this.registry.modelsDir): Promise<number> {
    return this.freeSpace(dir);
  }
}
