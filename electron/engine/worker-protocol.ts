// The typed envelope between the engine host and its worker process. Every request carries an
// id; the worker answers each with exactly one `result`, and may send `event`s before it.
import type { AppError } from '../shared/errors';
import type { ResponseFormat } from './engine';

export type LibVariant = 'default' | 'vulkan' | 'cuda';

export interface WorkerDevice {
  backend: string;
  type: string;
  name: string;
  memoryBytes: number;
}

export interface LoadParams {
  model: string;
  mmproj: string | null;
  libVariant: LibVariant;
  nGpuLayers: number;
  nCtx: number;
  visionOnGpu: boolean;
  /** CPU threads for llama.cpp; 0 lets it choose. */
  nThreads: number;
  /** Sequences served at once (slot-plan.ts); each gets nCtx tokens of KV. */
  nParallel: number;
  /** kv-cache/ folder for per-conversation states; null: no disk cache. */
  cacheDir: string | null;
  cacheCapBytes: number;
}

export interface LoadResult {
  libVariant: LibVariant;
  usedDevices: string[];
  vision: boolean;
  loadMs: number;
}

export interface CompleteParams {
  prompt: string;
  mediaPaths: string[];
  nPredict: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stop: string[];
  presencePenalty: number;
  frequencyPenalty: number;
  /** JSON-constrained generation (see engine.ts ResponseFormat); null: free text. */
  responseFormat: ResponseFormat | null;
  /** State to start from (kv-cache.ts) and to save the answer under; null: none. */
  loadKey: string | null;
  saveKey: string | null;
}

export interface CompleteResult {
  text: string;
  promptTokens: number;
  /** Tokens actually evaluated this time; the rest came from the KV cache. */
  promptEvaluated: number;
  completionTokens: number;
  interrupted: boolean;
  contextFull: boolean;
  /** Stopped by n_predict rather than an end token or stop word. */
  hitLimit: boolean;
  promptMs: number;
  predictedMs: number;
  /** Worker clock: completion() call to first token. */
  firstTokenMs: number | null;
  /** Bytes of a saved state loaded from the disk cache for this answer (0: none). */
  stateBytesRead: number;
}

export type WorkerPhase = 'encoding-image' | 'evaluating-prompt' | 'generating' | 'reloading';

export interface RequestMap {
  devices: { params: { libVariant: LibVariant }; result: { libVariant: LibVariant; devices: WorkerDevice[] } };
  load: { params: LoadParams; result: LoadResult };
  complete: { params: CompleteParams; result: CompleteResult };
  unload: { params: Record<string, never>; result: null };
  /** Resolves once every saved state is checksummed and in place (before quit, size reports). */
  settle: { params: Record<string, never>; result: null };
  /** A new cache cap: used after each save from now on, and states over it are deleted at once. */
  cap: { params: { capBytes: number }; result: null };
}

export type RequestKind = keyof RequestMap;

export type HostToWorker =
  | { [K in RequestKind]: { type: 'request'; id: number; kind: K; params: RequestMap[K]['params'] } }[RequestKind]
  | { type: 'cancel'; id: number };

export type WorkerEvent = { kind: 'phase'; phase: WorkerPhase } | { kind: 'delta'; text: string };

export type WorkerToHost =
  | { type: 'ready'; pid: number }
  | { type: 'event'; id: number; event: WorkerEvent }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: AppError };

/** Deltas leave the worker at most this often (the first one at once): IPC per token falls behind at 1,000+ tok/s. */
export const DELTA_FLUSH_MS = 16;

/**
 * Sampler settings the worker always passes. The binding enables XTC by default, which sometimes
 * drops the likeliest tokens, and DRY, which costs time per token; LLaVA was tuned for plain
 * temperature / top-k / top-p sampling. Benchmarks pass the same to the raw binding.
 */
export const SAMPLER_OVERRIDES = { xtc_probability: 0, dry_multiplier: 0 } as const;
