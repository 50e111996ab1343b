// Download jobs: pull (checks, then the bytes in the background), pause, resume (also after a
// restart), cancel, and the verification that turns two downloaded files into an installed pair.
import { mkdir } from 'node:fs/promises';
import type { DownloadJob, InstalledModel, PullRequest } from '../shared/contracts/models';
import { checkDiskSpace, type FreeSpaceFn } from './disk-space';
import { DownloadError, serverSizeMismatch } from './download-error';
import { isRunning, newJobView, updateTotal } from './download-job-view';
import { authHeaders } from './hugging-face';
import type { ModelEvents } from './model-events';
import type { ModelLibrary } from './model-library';
import { ROLES, sizeOf } from './model-files';
import { fromDownloadError, jobError, ModelManagerError } from './model-manager-error';
import { partialBytes } from './part-file';
import { pendingEntry, planFromEntry, planPull, type FileSpec, type PullPlan } from './pull-plan';
import { downloadFile, probeRemote, type RetryPolicy } from './range-downloader';
import type { ModelRegistry, RegistryFile } from './registry';

export interface DownloadJobsOptions {
  freeSpace: FreeSpaceFn;
  /** Hugging Face token (keychain in the app, env or flag headless); read at each download. */
  hfToken?: () => string | null | Promise<string | null>;
  retry?: Partial<RetryPolicy>;
  progressIntervalMs?: number;
}

interface Job {
  view: DownloadJob;
  controller: AbortController | null;
  /** Why the controller was aborted. */
  stopping: 'pause' | 'cancel' | null;
  done: Promise<void> | null;
}

export class DownloadJobs {
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly library: ModelLibrary,
    private readonly events: ModelEvents,
    private readonly options: DownloadJobsOptions,
  ) {}

  list(): DownloadJob[] {
    return [...this.jobs.values()].map((j) => structuredClone(j.view));
  }

  /** The live view (not a copy) for the library's status text. */
  view(id: string): DownloadJob | undefined {
    return this.jobs.get(id)?.view;
  }

  private publish(job: Job): void {
    this.events.emit({ type: 'job', job: structuredClone(job.view) });
  }

  private async token(): Promise<string | null> {
    return (await this.options.hfToken?.()) ?? null;
  }

  /**
   * Checks access and disk space, registers the pair and starts downloading in the background.
   * Resolves with the job once the checks pass; progress and the outcome come as events.
   */
  async startPull(req: PullRequest): Promise<DownloadJob> {
    const plan = planPull(req, await this.library.catalog());
    const existing = this.jobs.get(plan.id);
    if (existing && isRunning(existing.view.state)) return structuredClone(existing.view);
    const prior = await this.registry.get(plan.id);
    if (prior?.complete) {
      const m = await this.library.get(plan.id);
      if (m.status === 'ready') throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `${m.name} is already installed and ready`);
    }
    const job = this.newJob(plan);
    try {
      await this.registry.upsert(pendingEntry(plan, prior?.addedAt ?? new Date().toISOString()));
      this.events.emit({ type: 'installed' });
      await this.preflight(plan, job);
    } catch (err) {
      // Refused before any byte arrived (no access, no such file, no space): leave nothing behind.
      if (!prior) await this.registry.removeWithFolder(plan.id);
      this.fail(job, err, plan.licenseUrl);
      if (err instanceof DownloadError && err.code === 'NETWORK' && job.view.error) {
        job.view.error.action = 'Check the address and the connection, then try again.';
        this.publish(job);
      }
      throw err instanceof DownloadError ? fromDownloadError(err, plan.licenseUrl, job.view.error?.action) : err;
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
    return this.library.get(job.id);
  }

  private newJob(plan: PullPlan): Job {
    const job: Job = { view: newJobView(plan.id, plan.name, plan.files), controller: new AbortController(), stopping: null, done: null };
    this.jobs.set(plan.id, job);
    this.publish(job);
    return job;
  }

  private fail(job: Job, err: unknown, licenseUrl: string | null): void {
    job.view.error = jobError(err, licenseUrl);
    job.view.state = 'error';
    this.publish(job);
    this.events.emit({ type: 'installed' });
  }

  private async preflight(plan: PullPlan, job: Job): Promise<void> {
    const token = await this.token();
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
          throw serverSizeMismatch(f.fileName, size, f.size);
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
    updateTotal(job.view);
    await mkdir(this.registry.dirOf(plan.id), { recursive: true });
    const problem = await checkDiskSpace(this.registry.dirOf(plan.id), remaining, this.options.freeSpace);
    if (problem) throw new ModelManagerError('INVALID_INPUT', 'DISK_FULL', problem);
    job.view.state = 'downloading';
    this.publish(job);
  }

  private async run(plan: PullPlan, job: Job): Promise<void> {
    const signal = (job.controller as AbortController).signal;
    const token = await this.token();
    try {
      for (const [i, f] of plan.files.entries()) {
        const view = job.view.files[i] as DownloadJob['files'][number];
        const dest = this.registry.pathOf(plan.id, f.fileName);
        if ((await sizeOf(dest)) !== null) {
          // Finished in an earlier run: it was verified before the rename.
          view.receivedBytes = view.totalBytes = (await sizeOf(dest)) ?? 0;
          view.done = true;
          continue;
        }
        const r = await downloadFile(
          { url: f.url, dest, size: f.size, sha256: f.sha256, headers: authHeaders(f.url, token), licenseUrl: plan.licenseUrl },
          {
            signal,
            retry: this.options.retry,
            progressIntervalMs: this.options.progressIntervalMs,
            onProgress: (p) => {
              Object.assign(view, p);
              updateTotal(job.view);
              this.publish(job);
            },
          },
        );
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
      updateTotal(job.view);
      this.publish(job);
      const paths = ROLES.map((role) => this.registry.pathOf(plan.id, (plan.files.find((f) => f.role === role) as FileSpec).fileName));
      const v = await this.library.validate(paths[0] as string, paths[1] as string);
      if (!v.ok) throw new ModelManagerError('MODEL_INVALID', 'PAIR_INVALID', `Downloaded, but not a usable pair: ${v.message}`, 'Delete it and choose a matching model and projector.');
      await this.library.register(
        plan.id,
        (d) => {
          const m = d.models.find((x) => x.id === plan.id);
          if (m) m.complete = true;
        },
        {
          written: () => {
            job.view.state = 'done';
            updateTotal(job.view);
            this.publish(job);
          },
        },
      );
    } catch (err) {
      if (job.stopping === 'pause') {
        job.view.state = 'paused';
        for (const f of job.view.files) {
          f.bytesPerSecond = 0;
          f.etaSeconds = null;
        }
        updateTotal(job.view);
        this.publish(job);
        return;
      }
      if (job.stopping === 'cancel') return; // cancel() cleans up and reports
      this.fail(job, err, plan.licenseUrl);
    } finally {
      job.controller = null;
    }
  }

  async pause(id: string): Promise<DownloadJob> {
    const job = this.jobs.get(id);
    if (!job) throw noDownload(id);
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
    if (!entry) throw noDownload(id);
    if (entry.complete) throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `${entry.name} is already downloaded`);
    const job = this.jobs.get(id);
    if (job?.controller) return structuredClone(job.view);
    const [model, mmproj] = ROLES.map((role) => entry.files.find((f) => f.role === role) as RegistryFile);
    if (!model?.url || !mmproj?.url) throw new ModelManagerError('INVALID_INPUT', 'NOT_DOWNLOADABLE', `${entry.name} was not downloaded, so it cannot be resumed`);
    const plan = planFromEntry(entry);
    const fresh = this.newJob(plan);
    try {
      await this.preflight(plan, fresh);
    } catch (err) {
      this.fail(fresh, err, plan.licenseUrl);
      throw err instanceof DownloadError ? fromDownloadError(err, plan.licenseUrl) : err;
    }
    fresh.done = this.run(plan, fresh);
    return structuredClone(fresh.view);
  }

  /** Stops the download and removes its partial files and its registry entry. */
  async cancel(id: string): Promise<DownloadJob> {
    const entry = await this.registry.get(id);
    const job = this.jobs.get(id) ?? (entry && !entry.complete ? { view: newJobView(id, entry.name, []), controller: null, stopping: null, done: null } : null);
    if (!job) throw noDownload(id);
    if (job.view.state === 'done') throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `${job.view.name} is already downloaded: delete it instead`);
    job.stopping = 'cancel';
    job.controller?.abort();
    await job.done;
    if (entry && !entry.complete) {
      await this.registry.removeWithFolder(id);
    }
    job.view.state = 'cancelled';
    this.jobs.set(id, job);
    this.publish(job);
    this.events.emit({ type: 'installed' });
    return structuredClone(job.view);
  }

  /** Before a pair is deleted: stops its download unless it has ended. */
  async stopFor(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (job && job.view.state !== 'done' && job.view.state !== 'error' && job.view.state !== 'cancelled') await this.cancel(id);
  }

  forget(id: string): void {
    this.jobs.delete(id);
  }

  /** Waits for every running download to stop (used on shutdown and in tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }
}

/** Pause, resume and cancel of an id with no download say so in one way. */
function noDownload(id: string): ModelManagerError {
  return new ModelManagerError('NOT_FOUND', 'NO_DOWNLOAD', `No download for "${id}"`);
}
