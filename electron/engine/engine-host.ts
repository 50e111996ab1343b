// The local engine: validates weights, picks a GPU build and layer count, and drives the worker
// process (worker-link.ts). A worker crash fails only the request in flight; the next request
// restarts it, unless the pair killed it twice at load or on its first answer (crash-report.ts).
import os from 'node:os';
import path from 'node:path';
import { ok, type AppError, type Result } from '../shared/errors';
import type { EngineDeviceInfo, EngineStatus, GenerateEvent, GeneratePhase } from '../shared/types';
import { CrashLedger, type CrashFacts } from './crash-report';
import { NO_MODEL_STATUS, type Engine, type GenerateRequest, type ModelPair } from './engine';
import { parseDeviceNames } from './device-names';
import { candidateVariants, detectNvidiaDriver, planGpuLayers, usableGpus, type GpuPlan } from './gpu-plan';
import { validateModelPair } from './model-validator';
import { formatFireLlavaPrompt } from './prompt-format';
import { formatRawPrompt } from './raw-prompt';
import { footprintOf, stateKeys, terminalOf } from './engine-results';
import { cacheSize, clearCache, defaultCapBytes, deleteConversationState, enforceCap } from './kv-cache';
import { SlotGate } from './slot-gate';
import { planSlots } from './slot-plan';
import { WorkerLink } from './worker-link';
import { spawnNodeWorker, spawnNodeWorkerLive, type SpawnWorker } from './worker-process';
import type { LibVariant, LoadParams, WorkerDevice } from './worker-protocol';

export interface LocalEngineOptions {
  /** Built worker bundle; defaults to dist/engine/engine-worker.cjs beside the calling bundle. */
  workerEntry?: string;
  spawn?: SpawnWorker;
  /** Context length; capped by what the model was trained for. */
  nCtx?: number;
  /** CPU threads for llama.cpp; default lets it choose. */
  nThreads?: number;
  /** Skip GPU builds (`--cpu`). */
  cpuOnly?: boolean;
  platform?: NodeJS.Platform;
  hasNvidiaDriver?: boolean;
  /** Receives native log text from the worker. */
  onLog?: (text: string) => void;
  /** Sequences served at once; unset or 0: from free memory and the model's KV size (slot-plan.ts). */
  slots?: number;
  /** Per-conversation KV states (kv-cache/ under the data folder); unset: no disk cache. */
  cacheDir?: string;
  /** Cache size cap; default min(8 GB, 10% of free disk). */
  cacheCapBytes?: number;
}

type Terminal = GenerateEvent & { type: 'done' | 'error' };

export function defaultWorkerEntry(): string {
  // Bundles live in dist/<name>/; the worker bundle is dist/engine/engine-worker.cjs.
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  return path.resolve(here, '..', 'engine', 'engine-worker.cjs');
}

const BACKEND_LABEL: Record<LibVariant, string> = { cuda: 'CUDA', vulkan: 'Vulkan', default: 'Metal' };

export class LocalEngine implements Engine {
  private readonly link: WorkerLink;
  private readonly gate = new SlotGate(1);
  /** Without a data folder the states live in a private temp folder, removed on dispose. */
  private readonly cacheDir: string;
  private readonly listeners = new Set<(status: EngineStatus) => void>();
  private current: EngineStatus = NO_MODEL_STATUS;
  /** What to reload after a worker crash, and the status to return to. */
  private loadedParams: LoadParams | null = null;
  private readyStatus: EngineStatus | null = null;
  /** Usable GPUs found by any devices request; [] once every build was asked and none has one. */
  private knownGpus: EngineDeviceInfo[] | null = null;
  private disposed = false;
  /** Generate requests accepted and not finished (running or waiting), for 429s. */
  private accepted = 0;
  private capBytes = 0;
  /** Measured once per start: a default that followed the free disk would drift while shown. */
  private defaultCap: Promise<number> | null = null;
  private cacheBytes: number | null = null;
  private readonly crashes = new CrashLedger();
  private readonly brokenListeners = new Set<(pair: ModelPair, message: string) => void>();
  /** The loaded pair has answered (or survived) a request since its last load. */
  private answeredSinceLoad = false;

  constructor(private readonly options: LocalEngineOptions = {}) {
    this.cacheDir = options.cacheDir ?? path.join(os.tmpdir(), `firellava-kv-${process.pid}-${Math.random().toString(36).slice(2)}`);
    this.link = new WorkerLink({
      // Live output only for someone watching it; otherwise the host is not woken for every log line.
      spawn: options.spawn ?? (options.onLog ? spawnNodeWorkerLive : spawnNodeWorker),
      entry: options.workerEntry ?? defaultWorkerEntry(),
      ...(options.onLog ? { onLog: options.onLog } : {}),
      onExit: (error) => {
        if (this.loadedParams && !this.disposed) this.reportCrash(error);
      },
    });
  }

  status(): EngineStatus {
    return this.current;
  }

  onStatus(listener: (status: EngineStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A pair crashed the worker twice (at load or on its first answer) and will not be loaded again. */
  onPairBroken(listener: (pair: ModelPair, message: string) => void): () => void {
    this.brokenListeners.add(listener);
    return () => this.brokenListeners.delete(listener);
  }

  load(pair: ModelPair): Promise<Result<EngineStatus>> {
    return this.exclusive(() => this.loadNow(pair));
  }

  async generate(request: GenerateRequest, onEvent: (event: GenerateEvent) => void, signal?: AbortSignal): Promise<Terminal> {
    const accepted = performance.now();
    const cancelled: Terminal = { type: 'error', error: { code: 'CANCELLED', message: 'Stopped before the answer started' } };
    if (signal?.aborted) return cancelled;
    if (this.gate.waiting > 0 || this.gate.inUse >= this.gate.capacity) onEvent({ type: 'phase', phase: 'queued' });
    this.accepted++;
    try {
      // The worker died earlier: one restart for everyone waiting, alone, before answering.
      if (this.loadedParams && !this.link.alive) {
        const restarted = await this.exclusive(() => this.restartWorker(onEvent));
        if (restarted) return restarted;
      }
      return await this.gate.run(false, async () => {
        if (signal?.aborted) return cancelled;
        this.slotsChanged();
        try {
          return await this.generateNow(request, onEvent, accepted, signal);
        } finally {
          queueMicrotask(() => this.slotsChanged());
          // The answer's state is committed after done: the size shown follows without delaying it.
          if (this.options.cacheDir) void this.refreshCacheSize().catch(() => undefined);
        }
      });
    } finally {
      this.accepted--;
    }
  }

  /** Size of the disk cache after deleting every state in it. */
  async clearKvCache(): Promise<number> {
    // A state still being put in place would come back after the delete.
    if (this.link.alive && this.loadedParams) await this.link.request('settle', {});
    await clearCache(this.cacheDir);
    return this.refreshCacheSize();
  }

  /**
   * A new cap (null: the default): the worker keeps to it after each save and, like a restarted
   * worker, deletes the least recently used states over it now. Sets the cap before any await, so
   * a number given at start-up is the one the first load uses.
   */
  async setCacheCap(bytes: number | null): Promise<{ bytes: number; capBytes: number }> {
    const capBytes = bytes ?? (await this.defaultCapOnce());
    this.capBytes = capBytes;
    if (this.loadedParams) this.loadedParams = { ...this.loadedParams, cacheCapBytes: capBytes };
    // A worker busy loading is told by loadNow once loaded; the disk is trimmed here meanwhile.
    const told = this.link.alive && this.loadedParams ? await this.link.request('cap', { capBytes }) : null;
    if (!told?.ok) await enforceCap(this.cacheDir, capBytes);
    return { bytes: await this.refreshCacheSize(), capBytes };
  }

  private defaultCapOnce(): Promise<number> {
    return (this.defaultCap ??= defaultCapBytes(this.cacheDir));
  }

  /** The conversation is gone (deleted, trash emptied): so is its saved state. */
  async forgetConversation(conversationId: string): Promise<void> {
    await deleteConversationState(this.cacheDir, conversationId);
    await this.refreshCacheSize();
  }

  async refreshCacheSize(): Promise<number> {
    if (this.link.alive && this.loadedParams) await this.link.request('settle', {});
    this.cacheBytes = this.options.cacheDir ? await cacheSize(this.cacheDir) : null;
    this.slotsChanged();
    return this.cacheBytes ?? 0;
  }

  private slotsChanged(): void {
    if (this.current.state !== 'ready') return;
    this.setStatus({
      slots: { inUse: this.gate.inUse, total: this.gate.capacity },
      kvCache: this.cacheBytes === null ? null : { bytes: this.cacheBytes, capBytes: this.capBytes },
    });
  }

  async dispose(): Promise<void> {
    // Quit: states the worker is still putting in place are finished first (bounded).
    if (this.link.alive && this.loadedParams) await Promise.race([this.link.request('settle', {}), new Promise((r) => setTimeout(r, 10_000))]);
    this.disposed = true;
    this.link.dispose();
    if (!this.options.cacheDir) await clearCache(this.cacheDir);
  }

  queueLength(): number {
    return this.accepted;
  }

  /**
   * GPUs the engine can use, found without loading a model (for the model manager's fit badge
   * before anything is downloaded). Remembered; null while an answer is running and nothing is
   * known yet, so a caller never waits behind generation.
   */
  async probeDevices(): Promise<EngineDeviceInfo[] | null> {
    if (this.knownGpus) return this.knownGpus;
    if (this.accepted > 0) return null;
    return this.exclusive(async () => {
      for (const variant of this.variants()) {
        if (this.knownGpus) break;
        await this.gpuOf(variant);
      }
      return (this.knownGpus ??= []);
    });
  }

  /** Test and benchmark hook: the worker's pid, to kill it from outside. */
  workerPid(): number | undefined {
    return this.link.pid;
  }

  // ---------------------------------------------------------------------------------------------

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.gate.run(true, task);
  }

  private setStatus(patch: Partial<EngineStatus>): void {
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener(this.current);
  }

  private async loadNow(pair: ModelPair): Promise<Result<EngineStatus>> {
    const checked = await validateModelPair(pair);
    if (!checked.ok) {
      this.setStatus({ state: 'error', message: checked.error.message, error: checked.error, progress: null });
      return checked;
    }
    const info = checked.value;
    const brokenWhy = this.crashes.brokenReason(pair);
    if (brokenWhy) {
      const error: AppError = { code: 'MODEL_LOAD_FAILED', message: brokenWhy };
      this.setStatus({ state: 'error', message: brokenWhy, error, progress: null });
      return { ok: false, error };
    }
    this.setStatus({
      state: 'loading',
      message: `Loading ${info.model.name}…`,
      model: { name: info.model.name, path: pair.model, mmprojPath: pair.mmproj, vision: pair.mmproj !== null, quantization: info.model.quantization },
      error: null,
      fallbackReason: null,
      progress: 0,
    });
    const nCtx = Math.min(this.options.nCtx ?? 4096, info.model.nCtxTrain || 4096);
    if (!this.capBytes) this.capBytes = this.options.cacheCapBytes ?? (await this.defaultCapOnce());
    const footprint = footprintOf(info);
    const platform = this.options.platform ?? process.platform;

    let fallbackReason: string | null = null;
    for (const variant of this.variants()) {
      const found = await this.gpuOf(variant);
      if (!found.ok) {
        fallbackReason = found.error.message;
        continue;
      }
      const gpu = found.value;
      const isCpuBuild = variant === 'default' && platform !== 'darwin';
      if (!gpu && isCpuBuild) this.knownGpus ??= [];
      if (!gpu && !isCpuBuild) continue;
      const plan: GpuPlan = gpu
        ? planGpuLayers(footprint, nCtx, gpu.memoryBytes)
        : { nGpuLayers: 0, totalLayers: info.model.nLayer, fit: 'cpu', visionOnGpu: false, estimatedBytes: 0 };
      const params: LoadParams = {
        model: pair.model,
        mmproj: pair.mmproj,
        libVariant: variant,
        nGpuLayers: plan.nGpuLayers,
        nCtx,
        visionOnGpu: plan.visionOnGpu,
        nThreads: this.options.nThreads ?? 0,
        nParallel: planSlots({
          footprint,
          nCtx,
          gpuFreeBytes: gpu && plan.nGpuLayers > 0 ? gpu.memoryBytes : null,
          ramFreeBytes: os.freemem(),
          ...(this.options.slots ? { override: this.options.slots } : {}),
        }),
        cacheDir: this.cacheDir,
        cacheCapBytes: this.capBytes,
      };
      const loaded = await this.link.request('load', params);
      if (!loaded.ok) {
        const error = this.crashed(loaded.error, 'load', pair, false);
        // A GPU load that fails (or crashes the worker once) still leaves the CPU build to try.
        if (gpu && !this.crashes.brokenReason(pair)) {
          fallbackReason = `Loading on ${gpu.name} (${BACKEND_LABEL[variant]}) failed: ${error.message}`;
          continue;
        }
        this.setStatus({ state: 'error', message: error.message, error, progress: null });
        return { ok: false, error };
      }
      this.loadedParams = params;
      // The cap was changed during the load: the worker started with the old one.
      if (params.cacheCapBytes !== this.capBytes) {
        this.loadedParams = { ...params, cacheCapBytes: this.capBytes };
        await this.link.request('cap', { capBytes: this.capBytes });
      }
      this.answeredSinceLoad = false;
      this.gate.capacity = params.nParallel;
      const onGpu = gpu !== undefined && plan.nGpuLayers > 0;
      const device = onGpu ? { backend: this.backendOf(variant), name: gpu.name, memoryBytes: gpu.memoryBytes } : { backend: 'cpu', name: 'CPU', memoryBytes: null };
      if (!onGpu && !fallbackReason && !this.options.cpuOnly) fallbackReason = gpu ? `${gpu.name} has too little free memory for this model` : 'No supported GPU was found';
      const layers = { offloaded: Math.min(plan.nGpuLayers, info.model.nLayer), total: info.model.nLayer };
      const where = onGpu
        ? `${gpu.name} (${BACKEND_LABEL[variant]}, ${layers.offloaded}/${layers.total} layers)`
        : this.options.cpuOnly
          ? 'CPU'
          : `CPU fallback: ${fallbackReason}`;
      this.setStatus({
        state: 'ready',
        message: `Ready on ${where}`,
        device,
        gpuLayers: layers,
        fallbackReason: onGpu ? null : fallbackReason,
        error: null,
        progress: null,
      });
      const left = await enforceCap(this.cacheDir, this.capBytes);
      if (this.options.cacheDir) this.cacheBytes = left;
      this.slotsChanged();
      this.readyStatus = this.current;
      return ok(this.current);
    }
    const error: AppError = { code: 'MODEL_LOAD_FAILED', message: fallbackReason ?? 'No engine build could load this model' };
    this.setStatus({ state: 'error', message: error.message, error, progress: null });
    return { ok: false, error };
  }

  /** Builds to try, best first. */
  private variants(): LibVariant[] {
    if (this.options.cpuOnly) return ['default'];
    const platform = this.options.platform ?? process.platform;
    return candidateVariants(platform, this.options.hasNvidiaDriver ?? detectNvidiaDriver(platform));
  }

  private backendOf(variant: LibVariant): string {
    if (variant !== 'default') return variant;
    return (this.options.platform ?? process.platform) === 'darwin' ? 'metal' : 'cpu';
  }

  /** The best usable GPU of one build (undefined: none), with its marketing name; remembered for probeDevices. */
  private async gpuOf(variant: LibVariant): Promise<Result<WorkerDevice | undefined>> {
    const devices = await this.link.request('devices', { libVariant: variant });
    if (!devices.ok) return devices;
    const names = parseDeviceNames(this.link.output);
    const named = devices.value.devices.map((d) => ({ ...d, name: names.get(d.name) ?? d.name }));
    const gpu = this.options.cpuOnly ? undefined : usableGpus(named)[0];
    if (gpu) this.knownGpus = [{ backend: this.backendOf(variant), name: gpu.name, memoryBytes: gpu.memoryBytes }];
    return ok(gpu);
  }

    /** Null when the worker runs again (or already did: another request restarted it). */
  private async restartWorker(onEvent: (event: GenerateEvent) => void): Promise<Terminal | null> {
    if (!this.loadedParams || this.link.alive) return null;
    const pair: ModelPair = { model: this.loadedParams.model, mmproj: this.loadedParams.mmproj };
    const brokenWhy = this.crashes.brokenReason(pair);
    if (brokenWhy) return { type: 'error', error: { code: 'MODEL_LOAD_FAILED', message: brokenWhy } };
    onEvent({ type: 'phase', phase: 'loading-model' });
    this.setStatus({ state: 'loading', message: 'Restarting the engine…', progress: 0 });
    const reloaded = await this.link.request('load', this.loadedParams);
    if (!reloaded.ok) {
      const error = this.crashed(reloaded.error, 'load', pair, false);
      this.setStatus({ state: 'error', message: error.message, error, progress: null });
      return { type: 'error', error };
    }
    this.answeredSinceLoad = false;
    if (this.readyStatus) this.setStatus(this.readyStatus);
    return null;
  }

  private async generateNow(
    request: GenerateRequest,
    onEvent: (event: GenerateEvent) => void,
    accepted: number,
    signal: AbortSignal | undefined,
  ): Promise<Terminal> {
    if (!this.loadedParams) {
      return { type: 'error', error: { code: 'NO_MODEL', message: 'No model is loaded yet: choose or download one first' } };
    }
    const pair: ModelPair = { model: this.loadedParams.model, mmproj: this.loadedParams.mmproj };
    const brokenWhy = this.crashes.brokenReason(pair);
    if (brokenWhy) return { type: 'error', error: { code: 'MODEL_LOAD_FAILED', message: brokenWhy } };
    // Died while this one waited for a slot: fail like the requests it took down.
    if (!this.link.alive) return { type: 'error', error: { code: 'ENGINE_CRASHED', message: 'The engine stopped unexpectedly; it restarts with your next message' } };
    const formatted =
      request.rawPrompt !== undefined ? formatRawPrompt(request.rawPrompt, request.turns) : formatFireLlavaPrompt(request.system, request.turns);
    onEvent({ type: 'image', attachmentId: formatted.usedImageId, ignoredAttachmentIds: formatted.ignoredImageIds });

    let ttftMs: number | null = null;
    let id = 0;
    const onAbort = () => this.link.cancel(id);
    const result = await this.link.request(
      'complete',
      {
        prompt: formatted.prompt,
        mediaPaths: formatted.mediaPaths,
        nPredict: request.params.maxTokens,
        temperature: request.params.temperature,
        topK: request.params.topK,
        topP: request.params.topP,
        seed: request.params.seed,
        stop: request.params.stop,
        presencePenalty: request.params.presencePenalty ?? 0,
        frequencyPenalty: request.params.frequencyPenalty ?? 0,
        responseFormat: request.responseFormat ?? null,
        ...stateKeys(request),
      },
      (event) => {
        if (event.kind === 'delta') {
          ttftMs ??= performance.now() - accepted;
          onEvent({ type: 'delta', text: event.text });
        } else {
          const phase: GeneratePhase = event.phase === 'reloading' ? 'loading-model' : event.phase;
          onEvent({ type: 'phase', phase });
        }
      },
      (requestId) => {
        id = requestId;
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      },
    );
    signal?.removeEventListener('abort', onAbort);
    if (!result.ok && result.error.code === 'ENGINE_CRASHED' && !this.answeredSinceLoad) {
      const error = this.crashed(result.error, 'first-request', pair, formatted.mediaPaths.length > 0);
      const message = error.code === 'ENGINE_CRASHED' ? `${error.message}. It restarts with your next message` : error.message;
      this.setStatus({ state: 'error', message, error, progress: null });
      return { type: 'error', error };
    }
    // The worker came through its first request: earlier crashes were not this pair's fault.
    this.answeredSinceLoad = true;
    this.crashes.clear(pair);
    if (!result.ok) return { type: 'error', error: result.error };
    return terminalOf(result.value, ttftMs, accepted);
  }

  /** A worker death on this pair: named with the file and likely cause, counted, and on the second one the pair is broken. */
  private crashed(error: AppError, stage: CrashFacts['stage'], pair: ModelPair, withImage: boolean): AppError {
    const exit = this.link.lastExit;
    if (error.code !== 'ENGINE_CRASHED' || !exit || this.disposed) return error;
    const { message, broken } = this.crashes.record({ stage, pair, withImage, ...exit });
    if (broken) for (const listener of this.brokenListeners) listener(pair, message);
    return { code: broken ? 'MODEL_LOAD_FAILED' : 'ENGINE_CRASHED', message, ...(error.detail ? { detail: error.detail } : {}) };
  }

  private reportCrash(error: AppError): void {
    this.setStatus({
      state: 'error',
      message: 'The engine stopped unexpectedly; it restarts with your next message',
      error,
      progress: null,
    });
  }
}

export function createLocalEngine(options: LocalEngineOptions = {}): LocalEngine {
  return new LocalEngine(options);
}
