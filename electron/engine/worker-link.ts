// The host's end of the worker process: starts one on first use, matches answers to requests,
// fails every pending request when the process dies, and keeps the native output that says why.
import { fail, type AppError, type Result } from '../shared/errors';
import { fileBeingLoaded, type CrashFacts } from './crash-report';
import type { SpawnWorker, WorkerProcess } from './worker-process';
import type { RequestKind, RequestMap, WorkerEvent, WorkerToHost } from './worker-protocol';

interface Pending {
  resolve: (result: Result<unknown>) => void;
  onEvent?: (event: WorkerEvent) => void;
}

export interface WorkerLinkOptions {
  spawn: SpawnWorker;
  entry: string;
  onLog?: (text: string) => void;
  /** The process died; called before its pending requests fail. */
  onExit: (error: AppError) => void;
}

const OUTPUT_TAIL_CHARS = 4000;

export class WorkerLink {
  private worker: WorkerProcess | null = null;
  private workerReady: Promise<void> | null = null;
  private outputTail = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private disposed = false;
  private loadingStep: CrashFacts['step'] = null;
  /** How the last process ended, its output and what it was loading: what a crash report is made of. */
  lastExit: Pick<CrashFacts, 'how' | 'log' | 'step'> | null = null;

  constructor(private readonly options: WorkerLinkOptions) {}

  get alive(): boolean {
    return this.worker !== null;
  }

  get pid(): number | undefined {
    return this.worker?.pid;
  }

  /** The end of the current (or last) process's native output. */
  get output(): string {
    return this.outputTail;
  }

  cancel(id: number): void {
    this.worker?.send({ type: 'cancel', id });
  }

  kill(): void {
    this.worker?.kill();
  }

  dispose(): void {
    this.disposed = true;
    this.kill();
  }

  async request<K extends RequestKind>(
    kind: K,
    params: RequestMap[K]['params'],
    onEvent?: (event: WorkerEvent) => void,
    onSent?: (id: number) => void,
  ): Promise<Result<RequestMap[K]['result']>> {
    try {
      await this.ensureWorker();
    } catch (err) {
      return fail('ENGINE_CRASHED', 'The engine process could not start', err instanceof Error ? err.message : String(err));
    }
    const worker = this.worker;
    if (!worker) return fail('ENGINE_CRASHED', 'The engine process stopped while starting');
    const id = this.nextId++;
    const done = new Promise<Result<unknown>>((resolve) => this.pending.set(id, onEvent ? { resolve, onEvent } : { resolve }));
    worker.send({ type: 'request', id, kind, params } as never);
    onSent?.(id);
    return (await done) as Result<RequestMap[K]['result']>;
  }

  private ensureWorker(): Promise<void> {
    if (this.worker && this.workerReady) return this.workerReady;
    if (this.disposed) return Promise.reject(new Error('engine disposed'));
    const worker = this.options.spawn(this.options.entry);
    this.worker = worker;
    this.outputTail = '';
    this.lastExit = null;
    this.loadingStep = null;
    worker.onOutput((chunk) => {
      // The marker can be far behind the end of a big chunk, so look before the tail is cut.
      this.loadingStep = fileBeingLoaded(this.outputTail.slice(-512) + chunk) ?? this.loadingStep;
      this.outputTail = (this.outputTail + chunk).slice(-OUTPUT_TAIL_CHARS);
      this.options.onLog?.(chunk);
    });
    let markReady!: () => void;
    let markFailed!: (err: Error) => void;
    this.workerReady = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    worker.onMessage((message) => {
      if (message.type === 'ready') markReady();
      else this.onWorkerMessage(message);
    });
    worker.onExit((code, signal) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.workerReady = null;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      this.lastExit = { how, log: this.outputTail, step: this.loadingStep };
      const error: AppError = {
        code: 'ENGINE_CRASHED',
        message: `The engine process stopped unexpectedly (${how})`,
        detail: this.outputTail.trim().split('\n').slice(-12).join('\n'),
      };
      markFailed(new Error(error.message));
      this.options.onExit(error);
      for (const [, pending] of this.pending) pending.resolve({ ok: false, error });
      this.pending.clear();
    });
    return this.workerReady;
  }

  private onWorkerMessage(message: Exclude<WorkerToHost, { type: 'ready' }>): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'event') {
      pending.onEvent?.(message.event);
      return;
    }
    this.pending.delete(message.id);
    pending.resolve(message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error });
  }
}
