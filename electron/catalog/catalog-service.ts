// Runs catalog jobs: k items at a time (catalogWorkers) through Engine.generate, each one its own
// conversation with its own image. Every finished item is saved as it finishes; pause lets the
// items in flight finish, cancel stops them (they go back to the queue).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import type { GenerationParams } from '../shared/contract';
import type {
  CatalogEvent,
  CatalogField,
  CatalogItemView,
  CatalogJobView,
  CatalogProgress,
  CatalogTemplate,
} from '../shared/contracts/catalog';
import { AppErrorException, toAppError } from '../shared/errors';
import type { GeneratePhase } from '../shared/types';
import { CatalogStore, MAX_ATTEMPTS, STOPPED_TWICE, type NewItem, type StoredJob } from './catalog-store';
import { SoloGate } from './solo-gate';
import { notesFor, type NotesByFile } from './catalog-notes';
import { CATALOG_PARAMS, charCount, checkOutput, LIST_COUNT, limitOf, maxTokensFor, responseFormatFor, turnFor } from './catalog-templates';

/**
 * Items one job runs at once: the engine's slots less one, kept free for a chat that could send
 * (at least 1; a remote engine or one not loaded yet: 1). A job's own concurrency (> 0) only lowers it.
 */
export function catalogWorkers(engine: Engine, concurrency: number): number {
  const free = Math.max(1, (engine.status().slots?.total ?? 1) - 1);
  return concurrency > 0 ? Math.min(concurrency, free) : free;
}

export interface CatalogServiceOptions {
  store: CatalogStore;
  engine: Engine;
  attachments: AttachmentStore;
  /** Sampling overrides (tests and benches pass a fixed seed). */
  params?: Partial<GenerationParams>;
}

/** Measured per run, for the progress line and the benchmark. */
export interface RunStats {
  items: number;
  /** Wall time of the items, summed. */
  itemMs: number;
  /** Time inside Engine.generate, summed. */
  engineMs: number;
  generations: number;
}

interface Runner {
  jobId: string;
  stop: AbortController;
  startedAt: number;
  finishedHere: number;
  phases: Map<number, { fileName: string; phase: CatalogProgress['running'][number]['phase'] }>;
  done: Promise<void>;
  notice: string | null;
  gate: SoloGate;
}

export class CatalogService {
  readonly store: CatalogStore;
  private readonly engine: Engine;
  private readonly attachments: AttachmentStore;
  private readonly params: Partial<GenerationParams>;
  private readonly runners = new Map<string, Runner>();
  private readonly listeners = new Set<(e: CatalogEvent) => void>();
  /** Items found "running" at start-up (their process died), now queued again. */
  readonly requeuedAtStart: number;
  readonly stats: RunStats = { items: 0, itemMs: 0, engineMs: 0, generations: 0 };

  constructor(options: CatalogServiceOptions) {
    this.store = options.store;
    this.engine = options.engine;
    this.attachments = options.attachments;
    this.params = options.params ?? {};
    this.requeuedAtStart = this.store.requeueInterrupted();
  }

  onEvent(listener: (e: CatalogEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: CatalogEvent): void {
    for (const l of this.listeners) l(e);
  }

  private emitJob(jobId: string): void {
    this.emit({ type: 'job', job: this.view(jobId) });
  }

  private emitItem(item: CatalogItemView): void {
    this.emit({ type: 'item', item });
  }

  /** Reads and stores each file as an attachment; a file that is no image becomes an error item. */
  async importFiles(files: string[], notes: NotesByFile | null): Promise<NewItem[]> {
    const out: NewItem[] = [];
    for (const file of files) {
      const fileName = path.basename(file);
      const n = notesFor(notes, fileName);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        out.push({ fileName, attachmentId: null, notes: n, error: `The file cannot be read (${code ?? (err as Error).message})` });
        continue;
      }
      out.push(await this.importBytes(fileName, bytes, n));
    }
    return out;
  }

  async importBytes(fileName: string, bytes: Uint8Array, notes: Record<string, string>): Promise<NewItem> {
    try {
      const info = await this.attachments.add(bytes);
      return { fileName, attachmentId: info.id, notes };
    } catch (err) {
      return { fileName, attachmentId: null, notes, error: toAppError(err).message };
    }
  }

  create(input: { name: string; template: CatalogTemplate; items: NewItem[]; sourceKey?: string | null; concurrency?: number; start?: boolean }): { job: CatalogJobView; duplicates: string[] } {
    if (input.items.length === 0) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'A catalog job needs at least one image' });
    const { job, duplicates } = this.store.createJob(input);
    if (input.start !== false) this.start(job.id);
    else this.emitJob(job.id);
    return { job: this.view(job.id), duplicates };
  }

  list(): CatalogJobView[] {
    return this.store.jobs().map((j) => this.viewOf(j));
  }

  view(jobId: string): CatalogJobView {
    return this.viewOf(this.store.job(jobId));
  }

  private viewOf(job: StoredJob): CatalogJobView {
    const counts = this.store.counts(job.id);
    const runner = this.runners.get(job.id);
    const total = counts.pending + counts.running + counts.done + counts.error;
    const msPerItem = runner && runner.finishedHere > 0 ? (performance.now() - runner.startedAt) / runner.finishedHere : null;
    const left = counts.pending + counts.running;
    return {
      id: job.id,
      name: job.name,
      template: job.template,
      state: job.state,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
      progress: {
        total,
        done: counts.done,
        failed: counts.error,
        running: runner ? [...runner.phases].map(([itemId, p]) => ({ itemId, ...p })) : [],
        msPerItem,
        etaSeconds: msPerItem === null ? null : Math.round((msPerItem * left) / 1000),
        notice: runner?.notice ?? null,
      },
    };
  }

  /** Starts or resumes a job; resolves at once (see whenIdle). */
  start(jobId: string): CatalogJobView {
    const job = this.store.job(jobId);
    if (!this.runners.has(jobId)) {
      this.store.setState(jobId, 'running');
      const runner: Runner = { jobId, stop: new AbortController(), startedAt: performance.now(), finishedHere: 0, phases: new Map(), done: Promise.resolve(), notice: null, gate: new SoloGate() };
      this.runners.set(jobId, runner);
      runner.done = this.run(runner, catalogWorkers(this.engine, job.concurrency)).finally(() => {
        this.runners.delete(jobId);
        this.emitJob(jobId);
      });
    } else if (job.state === 'paused') {
      this.store.setState(jobId, 'running');
    }
    this.emitJob(jobId);
    return this.view(jobId);
  }

  /** Every job left "running" by the last process goes on (the app calls this once at start). */
  resumeUnfinished(): void {
    for (const job of this.store.jobs()) if (job.state === 'running') this.start(job.id);
  }

  pause(jobId: string): CatalogJobView {
    const job = this.store.job(jobId);
    if (job.state === 'running') this.store.setState(jobId, 'paused');
    this.emitJob(jobId);
    return this.view(jobId);
  }

  async cancel(jobId: string): Promise<CatalogJobView> {
    this.store.setState(jobId, 'cancelled');
    const runner = this.runners.get(jobId);
    runner?.stop.abort();
    await runner?.done;
    this.emitJob(jobId);
    return this.view(jobId);
  }

  async delete(jobId: string): Promise<boolean> {
    const runner = this.runners.get(jobId);
    runner?.stop.abort();
    await runner?.done;
    const deleted = this.store.deleteJob(jobId);
    if (deleted) this.emit({ type: 'removed', jobId });
    return deleted;
  }

  /** Resolves when the job's runner has stopped (done, paused with nothing in flight, or cancelled). */
  async whenIdle(jobId: string): Promise<void> {
    await this.runners.get(jobId)?.done;
  }

  /** Stops every runner; items in flight go back to the queue. */
  async close(): Promise<void> {
    const all = [...this.runners.values()];
    for (const r of all) r.stop.abort();
    await Promise.allSettled(all.map((r) => r.done));
  }

  updateItem(itemId: number, field: CatalogField, value: string): CatalogItemView {
    const item = this.store.item(itemId);
    const template = this.store.job(item.jobId).template;
    if (!template.fields.includes(field)) throw new AppErrorException({ code: 'INVALID_INPUT', message: `The template of this job has no ${field} field` });
    const limit = limitOf(template, field);
    const entries = LIST_COUNT[field] ? value.split(field === 'tags' ? ',' : '\n').map((s) => s.trim()) : [value];
    const over = entries.some((s) => charCount(s) > limit);
    // Saved either way (nothing typed is lost); a too-long field stays flagged.
    const flags = item.flags.filter((f) => !f.startsWith(`${field}:`));
    if (over) flags.push(`${field}: longer than ${limit} characters`);
    const updated = this.store.updateValue(itemId, field, value, flags);
    this.emitItem(updated);
    return updated;
  }

  approve(itemIds: number[], approved: boolean): CatalogItemView[] {
    const items = this.store.approve(itemIds, approved);
    for (const i of items) this.emitItem(i);
    return items;
  }

  /** One row again (every field, or one field merged into the others); waits for the answer. */
  async regenerate(itemId: number, field?: CatalogField): Promise<CatalogItemView> {
    const item = this.store.item(itemId);
    const template = this.store.job(item.jobId).template;
    if (!item.attachmentId) throw new AppErrorException({ code: 'INVALID_INPUT', message: `${item.fileName} is not an image that could be read; it cannot be described` });
    if (item.status === 'running') throw new AppErrorException({ code: 'ENGINE_BUSY', message: 'This row is being written now' });
    if (field && !template.fields.includes(field)) throw new AppErrorException({ code: 'INVALID_INPUT', message: `The template of this job has no ${field} field` });
    if (field && item.status !== 'done') throw new AppErrorException({ code: 'INVALID_INPUT', message: 'Regenerate the whole row first' });
    await this.process(item, template, new AbortController().signal, null, field);
    this.emitJob(item.jobId);
    return this.store.item(itemId);
  }

  // ---------------------------------------------------------------------------------------------

  private async run(runner: Runner, k: number): Promise<void> {
    const template = this.store.job(runner.jobId).template;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (runner.stop.signal.aborted || this.store.job(runner.jobId).state !== 'running') return;
        // Synchronous from select to "running": two workers never claim the same item.
        const next = this.store.pending(runner.jobId, 1)[0];
        if (!next) return;
        const outcome = await this.process(next, template, runner.stop.signal, runner);
        if (outcome === 'no-model') return;
        runner.finishedHere++;
        this.emitJob(runner.jobId);
      }
    };
    await Promise.all(Array.from({ length: k }, worker));
    const job = this.store.job(runner.jobId);
    const counts = this.store.counts(runner.jobId);
    if (job.state === 'running' && counts.pending === 0 && counts.running === 0) this.store.setState(runner.jobId, 'done');
  }

  /** Generates one item and saves the outcome; 'no-model' leaves it queued and pauses the job. */
  private async process(item: CatalogItemView, template: CatalogTemplate, signal: AbortSignal, runner: Runner | null, only?: CatalogField): Promise<'saved' | 'requeued' | 'no-model'> {
    const started = performance.now();
    const setPhase = (phase: GeneratePhase | 'validating'): void => {
      if (!runner) return;
      runner.phases.set(item.id, { fileName: item.fileName, phase });
      this.emitJob(item.jobId);
    };
    const before = item;
    let running = this.store.markRunning(item.id);
    this.emitItem(running);
    setPhase('queued');
    const finish = (r: Parameters<CatalogStore['finishItem']>[1]): 'saved' => {
      runner?.phases.delete(item.id);
      const saved = this.store.finishItem(item.id, { ms: Math.round(performance.now() - started), ...r });
      this.stats.items++;
      this.stats.itemMs += performance.now() - started;
      this.emitItem(saved);
      return 'saved';
    };
    const restore = (): void => {
      runner?.phases.delete(item.id);
      // A stopped regeneration keeps the row it had.
      const r = before.status === 'done' || before.status === 'error' ? { status: before.status, values: before.values, flags: before.flags, error: before.error } : { status: 'pending' as const };
      this.emitItem(this.store.finishItem(item.id, { ...r, attempts: before.attempts }));
    };

    let file: string;
    try {
      file = await this.attachments.pathOf(item.attachmentId!);
    } catch (err) {
      return finish({ status: 'error', error: `The stored image is gone (${toAppError(err).message})` });
    }
    // A queued item that has attempts was in flight when the process died (a stopped one gives its
    // attempt back): those count, and it runs alone, like a retry after a worker crash (SoloGate).
    let crashes = before.status === 'pending' ? before.attempts : 0;
    let solo = crashes > 0;
    let redos = 0;
    let best: { values: typeof item.values; violations: string[] } | null = null;
    for (;;) {
      const release = runner ? await runner.gate.enter(solo) : () => undefined;
      const t0 = performance.now();
      const last = await this.engine.generate(
        {
          conversationId: `catalog-${item.jobId}-${item.id}`,
          cacheBy: 'none',
          system: '',
          turns: [turnFor(template, item.notes, { id: item.attachmentId!, path: file }, only)],
          params: { ...CATALOG_PARAMS, maxTokens: maxTokensFor(template, only), ...this.params, ...(redos > 0 || crashes > 0 ? { seed: -1 } : {}) },
          responseFormat: responseFormatFor(template, only),
        },
        (e) => {
          if (e.type === 'phase') setPhase(e.phase);
          else if (e.type === 'delta') setPhaseOnce();
        },
        signal,
      ).finally(release);
      this.stats.engineMs += performance.now() - t0;
      this.stats.generations++;
      // A stopped generation can end 'done' with half an answer: it goes back to the queue either way.
      if (signal.aborted || (last.type === 'error' && last.error.code === 'CANCELLED')) {
        restore();
        return 'requeued';
      }
      if (last.type === 'error') {
        // No model, or a pair the engine gave up on: every later item would fail the same way.
        if (last.error.code === 'NO_MODEL' || last.error.code === 'MODEL_LOAD_FAILED') {
          restore();
          if (runner) {
            runner.notice = last.error.message;
            this.store.setState(item.jobId, 'paused');
          }
          if (!runner) throw new AppErrorException(last.error);
          return 'no-model';
        }
        // A dead engine worker fails only this item: once more, alone, then an error row.
        if (last.error.code === 'ENGINE_CRASHED') {
          if (++crashes >= MAX_ATTEMPTS) return finish({ status: 'error', error: STOPPED_TWICE, values: before.values });
          solo = true;
          running = this.store.markRunning(item.id);
          this.emitItem(running);
          continue;
        }
        return finish({ status: 'error', error: last.error.message, values: before.values });
      }
      setPhase('validating');
      const checked = checkOutput(template, last.text, only);
      if (checked && (checked.violations.length === 0 || !best || checked.violations.length < best.violations.length)) best = checked;
      if ((!checked || checked.violations.length > 0) && redos < 1 && !signal.aborted) {
        redos++;
        continue;
      }
      if (!best) {
        const why = last.finishReason === 'length' || last.finishReason === 'context-full' ? 'it was cut off before the end' : 'it was not the JSON asked for';
        return finish({ status: 'error', error: `The model's answer could not be used twice (${why})`, values: before.values });
      }
      const values = only ? { ...before.values, ...best.values } : best.values;
      const flags = only ? [...before.flags.filter((f) => !f.startsWith(`${only}:`)), ...best.violations] : best.violations;
      return finish({ status: 'done', values, flags });
    }

    function setPhaseOnce(): void {
      if (runner && runner.phases.get(item.id)?.phase !== 'generating') setPhase('generating');
    }
  }
}
