// Runs a conversion in a worker thread and exposes it as one job object: progress callback,
// cancel(), and a promise for the result. This is the API the "Get FireLLaVA" flow drives (the
// Electron main process or `firellava serve` calls it; the renderer only sees its events).
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { convertLlava, type ConvertOptions, type ConvertProgress, type ConvertResult } from './convert-llava';
import { CheckpointError } from './safetensors';

export type ConvertJobOptions = Omit<ConvertOptions, 'signal' | 'onProgress' | 'encodeWorkerEntry'>;

export interface WorkerRequest {
  options: ConvertJobOptions;
}

export type WorkerMessage =
  | { type: 'progress'; progress: ConvertProgress }
  | { type: 'done'; result: ConvertResult }
  | { type: 'error'; message: string; code: CheckpointError['code'] | 'INTERNAL' };

export interface ConvertJob {
  /** Resolves with the finished pair; rejects with a CheckpointError (code CANCELLED after cancel()). */
  readonly done: Promise<ConvertResult>;
  /** Stops at the next chunk; the partial output is deleted. Safe to call more than once. */
  cancel(): void;
  /** The newest progress event, for UIs that poll. */
  readonly latest: ConvertProgress | undefined;
}

export interface StartOptions {
  /** Bundled worker file (dist/convert/convert-worker.cjs). Without one it runs on this thread. */
  workerEntry?: string;
  onProgress?: (p: ConvertProgress) => void;
}

/**
 * Encode threads for a machine: cores - 1 (one left for the app), up to 8, but 2 on a dual-core:
 * the converting thread only waits on the disk (under 5% busy when measured), so one encoder
 * there would leave a core idle while quantizing is the bottleneck.
 */
export function defaultEncodeWorkers(cores = availableParallelism()): number {
  return Math.min(8, Math.max(1, cores - 1, Math.min(2, cores)));
}

export function startConversion(options: ConvertJobOptions, start: StartOptions = {}): ConvertJob {
  let latest: ConvertProgress | undefined;
  const progress = (p: ConvertProgress): void => {
    latest = p;
    start.onProgress?.(p);
  };
  if (!start.workerEntry) {
    const ac = new AbortController();
    const done = convertLlava({ ...options, signal: ac.signal, onProgress: progress });
    return { done, cancel: () => ac.abort(), get latest() { return latest; } };
  }
  if (!existsSync(start.workerEntry)) throw new Error(`conversion worker ${start.workerEntry} is missing (run "npm run build:node")`);
  const encodeWorkers = options.encodeWorkers ?? defaultEncodeWorkers();
  const worker = new Worker(start.workerEntry, { workerData: { options: { ...options, encodeWorkers } } satisfies WorkerRequest });
  let settled = false;
  const done = new Promise<ConvertResult>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') progress(m.progress);
      else if (m.type === 'done') {
        settled = true;
        resolve(m.result);
      } else {
        settled = true;
        reject(m.code === 'INTERNAL' ? new Error(m.message) : new CheckpointError(m.message, m.code));
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`conversion worker exited with code ${code} before finishing`));
    });
  });
  return {
    done,
    cancel: () => {
      if (!settled) worker.postMessage({ type: 'cancel' });
    },
    get latest() {
      return latest;
    },
  };
}
