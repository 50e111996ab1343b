// Engine worker: the only place @fugood/llama.node is loaded. Runs as an Electron utilityProcess
// in the app and as a child_process fork in Node; a native crash here never takes the app down.
import { readFile } from 'node:fs/promises';
import { inspectImage } from '../attachments/image-inspect';
import { AppErrorException, type AppError } from '../shared/errors';
import type { ResponseFormat } from './engine';
import { stageMarker, type StageRole } from './crash-report';
import { settingsFingerprint } from './kv-cache';
import { MEDIA_MARKER } from './prompt-format';
import { SlotBook } from './slot-book';
import { StopFilter } from './stop-filter';
import { TokenCoalescer } from './token-coalescer';
import {
  DELTA_FLUSH_MS,
  SAMPLER_OVERRIDES,
  type CompleteParams,
  type CompleteResult,
  type HostToWorker,
  type LibVariant,
  type LoadParams,
  type LoadResult,
  type RequestKind,
  type RequestMap,
  type WorkerDevice,
  type WorkerEvent,
  type WorkerToHost,
} from './worker-protocol';

type Binding = typeof import('@fugood/llama.node');
type Context = Awaited<ReturnType<Binding['loadModel']>>;

class WorkerFailure extends Error {
  constructor(readonly error: AppError) {
    super(error.message);
  }
}

interface ParentPort {
  postMessage(message: WorkerToHost): void;
  on(event: 'message', listener: (e: { data: HostToWorker }) => void): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

function send(message: WorkerToHost): void {
  if (parentPort) parentPort.postMessage(message);
  else process.send?.(message);
}

let binding: Binding | null = null;
const getBinding = async (): Promise<Binding> => (binding ??= await import('@fugood/llama.node'));

let ctx: Context | null = null;
let loaded: LoadParams | null = null;
let slots = new SlotBook(null, '', 0);
/** A load, unload or devices request runs alone; completions run side by side in the slots. */
let busy = false;
const cancelled = new Set<number>();
/** Running completions and how to stop each one (stopping one leaves the other slots alone). */
const active = new Map<number, () => void>();

async function devices(libVariant: LibVariant): Promise<RequestMap['devices']['result']> {
  const b = await getBinding();
  const list = await b.getBackendDevicesInfo(libVariant);
  const mapped: WorkerDevice[] = list.map((d) => ({
    backend: d.backend,
    type: d.type,
    name: d.deviceName,
    memoryBytes: d.maxMemorySize,
  }));
  return { libVariant, devices: mapped };
}

async function release(): Promise<void> {
  const old = ctx;
  ctx = null;
  slots = new SlotBook(null, '', 0);
  if (old) await old.release();
}

/** Written before each native step: stderr is synchronous here, so the host sees it even after a SIGSEGV. */
function markStage(role: StageRole, file: string): void {
  process.stderr.write(`${stageMarker(role, file)}\n`);
}

async function load(params: LoadParams): Promise<LoadResult> {
  await release();
  loaded = null;
  const b = await getBinding();
  const started = performance.now();
  markStage('model', params.model);
  const next = await b.loadModel({
    model: params.model,
    // Every slot gets the full context (kv_unified off splits n_ctx evenly between sequences).
    n_ctx: params.nCtx * params.nParallel,
    n_gpu_layers: params.nGpuLayers,
    lib_variant: params.libVariant,
    ...(params.nThreads > 0 ? { n_threads: params.nThreads } : {}),
    n_parallel: params.nParallel,
    kv_unified: false,
    ctx_shift: false,
  });
  let vision = false;
  if (params.mmproj) {
    markStage('mmproj', params.mmproj);
    try {
      vision = next.initMultimodal({ path: params.mmproj, use_gpu: params.visionOnGpu });
    } catch (err) {
      await next.release();
      throw new WorkerFailure({
        code: 'MODEL_LOAD_FAILED',
        message: `The vision projector could not be initialised: ${err instanceof Error ? err.message : String(err)}`,
        detail: params.mmproj,
      });
    }
    if (!vision) {
      await next.release();
      throw new WorkerFailure({ code: 'MODEL_LOAD_FAILED', message: 'The vision projector could not be initialised', detail: params.mmproj });
    }
  }
  // Parallel mode even for one slot: one code path, and per-request state files for the disk cache.
  if (!(await next.parallel.enable({ n_parallel: params.nParallel, n_batch: 512 }))) {
    await next.release();
    throw new WorkerFailure({ code: 'MODEL_LOAD_FAILED', message: 'The engine could not start its parallel slots' });
  }
  const settings = await settingsFingerprint({ model: params.model, mmproj: params.mmproj, nCtx: params.nCtx, cacheType: 'f16' });
  slots = new SlotBook(params.cacheDir, settings, params.cacheCapBytes);
  ctx = next;
  loaded = params;
  return { libVariant: params.libVariant, usedDevices: next.getUsedDevices(), vision, loadMs: performance.now() - started };
}

function emit(id: number, event: WorkerEvent): void {
  send({ type: 'event', id, event });
}

type ParallelOptions = Parameters<Context['parallel']['completion']>[0];

function bindingFormat(format: ResponseFormat): NonNullable<ParallelOptions['response_format']> {
  return format.type === 'json_schema' ? { type: 'json_schema', json_schema: { strict: true, schema: format.schema } } : { type: 'json_object' };
}

const contextFull = (detail: string): WorkerFailure =>
  new WorkerFailure({
    code: 'CONTEXT_FULL',
    message: `This conversation is longer than the model's context (${loaded?.nCtx ?? 0} tokens): start a new chat or delete older messages`,
    detail,
  });

/**
 * A completion that fails on its image can leave the context stuck (a reload, seconds on a big
 * model), so a missing, empty, foreign or truncated file is refused before it starts. A structural
 * check of the bytes, not a decode: the binding's tokenizer would read the image too, but that
 * doubles the decode (0.85-1.8 s for a 12 MP image on the 2-core dev host).
 */
async function checkMedia(mediaPaths: string[]): Promise<void> {
  for (const file of mediaPaths) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new WorkerFailure({ code: 'IMAGE_INVALID', message: 'The image file is missing: attach the image again', detail: (err as Error).message });
    }
    try {
      inspectImage(bytes);
    } catch (err) {
      const reason = err instanceof AppErrorException ? err.error.message : String(err);
      throw new WorkerFailure({ code: 'IMAGE_INVALID', message: 'The engine could not read this image', detail: reason });
    }
  }
}

/** The package's types say stopped_limit; the direct completion says stopped_limited (measured). */
const limited = (r: { stopped_limit?: boolean; stopped_limited?: boolean }): boolean => r.stopped_limit === true || r.stopped_limited === true;

const cancelledResult = (): CompleteResult => ({
  text: '', promptTokens: 0, promptEvaluated: 0, completionTokens: 0, interrupted: true, contextFull: false, hitLimit: false, promptMs: 0, predictedMs: 0, firstTokenMs: null, stateBytesRead: 0,
});

async function complete(id: number, p: CompleteParams): Promise<CompleteResult> {
  if (!ctx || !loaded) throw new WorkerFailure({ code: 'NO_MODEL', message: 'No model is loaded' });
  if (p.mediaPaths.length > 0 && !ctx.isMultimodalEnabled()) {
    throw new WorkerFailure({ code: 'IMAGE_INVALID', message: 'This model was loaded without a vision projector, so it cannot see images' });
  }
  if (p.mediaPaths.length > 0) {
    await checkMedia(p.mediaPaths);
    // Stopped while the image was read: nothing ran yet.
    if (cancelled.has(id)) return cancelledResult();
  }
  // A prompt past the slot's context fails the whole batch natively (other slots included) and
  // answers empty: count its text tokens first (cheap; images only add to it).
  const textTokens = (await ctx.tokenize(p.prompt.split(MEDIA_MARKER).join(''))).tokens.length;
  if (textTokens >= loaded.nCtx) throw contextFull(`prompt of ${textTokens} text tokens`);
  const disk = await slots.diskPlan(id, p);
  emit(id, { kind: 'phase', phase: p.mediaPaths.length > 0 && !disk.loadPath ? 'encoding-image' : 'evaluating-prompt' });

  const coalescer = new TokenCoalescer((text) => emit(id, { kind: 'delta', text }), DELTA_FLUSH_MS);
  const started = performance.now();
  let firstTokenMs: number | null = null;
  let streamed = '';
  let finished = false;
  let tokenCallbacks = 0;
  let stoppedAt = 0;
  const stopper = new StopFilter(p.stop);
  const onToken = (text: string): void => {
    if (firstTokenMs === null) {
      firstTokenMs = performance.now() - started;
      emit(id, { kind: 'phase', phase: 'generating' });
    }
    streamed += text;
    const shown = stopper.push(text);
    if (shown) coalescer.push(shown);
  };
  const options: ParallelOptions = {
    prompt: p.prompt,
    media_paths: p.mediaPaths.length > 0 ? p.mediaPaths : undefined,
    n_predict: p.nPredict,
    temperature: p.temperature,
    top_k: p.topK,
    top_p: p.topP,
    seed: p.seed,
    stop: p.stop.length > 0 ? p.stop : undefined,
    penalty_present: p.presencePenalty,
    penalty_freq: p.frequencyPenalty,
    // Only response_format constrains a raw prompt; the binding ignores json_schema there.
    ...(p.responseFormat ? { response_format: bindingFormat(p.responseFormat) } : {}),
    ...(disk.savePath ? { save_state_path: disk.savePath } : {}),
    ...SAMPLER_OVERRIDES,
  };
  const run = async (loadPath: string | null) => {
    if (!ctx) throw new WorkerFailure({ code: 'NO_MODEL', message: 'No model is loaded' });
    const queued = await ctx.parallel.completion(loadPath ? { ...options, load_state_path: loadPath } : options, (_rid, token) => {
      tokenCallbacks++;
      // Token callbacks can arrive after the promise resolved; the final text has them.
      if (!finished) onToken(token.token);
    });
    active.set(id, () => {
      // The promise of a stopped request rejects: keep how far it got from the slot's status.
      const seen = ctx?.parallel.getStatus().requests.find((r) => r.request_id === queued.requestId);
      if (seen) stoppedAt = seen.prompt_length;
      queued.stop();
    });
    if (cancelled.has(id)) active.get(id)?.();
    return queued.promise;
  };
  try {
    let result = await run(disk.loadPath);
    // A state the binding could not read answers empty with zero timings: never show that, redo cold.
    if (disk.loadPath && result.text === '' && result.timings.prompt_n === 0 && result.timings.cache_n === 0 && !cancelled.has(id)) {
      await slots.dropState(p.loadKey);
      disk.bytesRead = 0;
      result = await run(null);
    }
    finished = true;
    const promptTokens = result.timings.cache_n + result.timings.prompt_n;
    // Nothing evaluated and nothing said: the batch failed natively (an image pushed it past the context).
    if (promptTokens === 0 && result.tokens_predicted === 0 && !cancelled.has(id)) throw contextFull('the prompt could not be evaluated');
    // The prompt alone filled the context: nothing was generated, so this is an error, not an empty answer.
    if (result.context_full && result.tokens_predicted === 0 && result.text === '') {
      throw contextFull(`full before the first token; prompt of ${p.prompt.length} characters`);
    }
    if (result.text.startsWith(streamed) && result.text.length > streamed.length) onToken(result.text.slice(streamed.length));
    const tail = stopper.end();
    if (tail) coalescer.push(tail);
    coalescer.flush();
    slots.afterAnswer(p, disk.savePath);
    const text = StopFilter.cut(result.text, p.stop);
    return {
      text,
      promptTokens,
      promptEvaluated: result.timings.prompt_n,
      completionTokens: limited(result) ? p.nPredict : Math.max(result.tokens_predicted, tokenCallbacks),
      interrupted: cancelled.has(id),
      contextFull: result.context_full,
      hitLimit: !cancelled.has(id) && !result.context_full && limited(result) && text === result.text,
      promptMs: result.timings.prompt_ms,
      predictedMs: result.timings.predicted_ms,
      firstTokenMs,
      stateBytesRead: disk.bytesRead,
    };
  } catch (err) {
    finished = true;
    coalescer.flush();
    await slots.discard(disk.savePath);
    if (err instanceof WorkerFailure) throw err;
    const message = err instanceof Error ? err.message : String(err);
    // Stop of one sequence rejects its promise; the others run on untouched.
    if (cancelled.has(id)) return { ...cancelledResult(), text: StopFilter.cut(streamed, p.stop), firstTokenMs, completionTokens: tokenCallbacks, promptTokens: stoppedAt, promptEvaluated: stoppedAt };
    if (/context/i.test(message) && /(space|full|size|exceed|long)/i.test(message)) throw contextFull(message);
    if (p.mediaPaths.length > 0 && /(image|media|bitmap|load|decode)/i.test(message)) {
      throw new WorkerFailure({ code: 'IMAGE_INVALID', message: 'The engine could not read this image', detail: message });
    }
    throw new WorkerFailure({ code: 'GENERATION_FAILED', message: `Generation failed: ${message}` });
  } finally {
    active.delete(id);
  }
}

async function handle<K extends RequestKind>(kind: K, id: number, params: RequestMap[K]['params']): Promise<unknown> {
  switch (kind) {
    case 'devices':
      return devices((params as RequestMap['devices']['params']).libVariant);
    case 'load':
      return load(params as LoadParams);
    case 'complete':
      return complete(id, params as CompleteParams);
    case 'settle':
      await slots.settled();
      return null;
    case 'cap':
      await slots.setCap((params as RequestMap['cap']['params']).capBytes);
      return null;
    case 'unload':
      await release();
      loaded = null;
      return null;
    default:
      throw new WorkerFailure({ code: 'INTERNAL', message: `Unknown engine request "${String(kind)}"` });
  }
}

async function onMessage(message: HostToWorker): Promise<void> {
  if (message.type === 'cancel') {
    cancelled.add(message.id);
    active.get(message.id)?.();
    return;
  }
  const { id, kind, params } = message;
  const alone = kind !== 'complete' && kind !== 'settle' && kind !== 'cap';
  if (busy || (alone && active.size > 0)) {
    send({ type: 'result', id, ok: false, error: { code: 'ENGINE_BUSY', message: 'The engine is busy with another request' } });
    return;
  }
  if (alone) busy = true;
  try {
    if (cancelled.has(id)) throw new WorkerFailure({ code: 'CANCELLED', message: 'Cancelled' });
    const value = await handle(kind, id, params);
    send({ type: 'result', id, ok: true, value });
  } catch (err) {
    const error: AppError =
      err instanceof WorkerFailure ? err.error : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
    send({ type: 'result', id, ok: false, error });
  } finally {
    cancelled.delete(id);
    if (alone) busy = false;
  }
}

if (parentPort) parentPort.on('message', (e) => void onMessage(e.data));
else process.on('message', (m) => void onMessage(m as HostToWorker));
// A lost parent means nobody can use the loaded model: exit instead of holding GPU memory.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready', pid: process.pid });
