// Engine worker: the only place @fugood/llama.node is loaded. Runs as an Electron utilityProcess
// in the app and as a child_process fork in Node; a native crash here never takes the app down.
import { readFile } from 'node:fs/promises';
import { inspectImage } from '../attachments/image-inspect';
import { AppErrorException, type AppError } from '../shared/errors';
import type { ResponseFormat } from './engine';
import { stageMarker, type StageRole } from './crash-report';
import { MEDIA_MARKER } from './prompt-format';
import { TokenCoalescer } from './token-coalescer';
import {
  BUSY_RELOAD_MARKER,
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
/** Prompt and image of the last completion: the binding reuses the KV cache for a shared prefix. */
let lastPrompt = '';
let lastMedia = '';
let busy = false;
const cancelled = new Set<number>();
let activeId: number | null = null;

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
  lastPrompt = '';
  lastMedia = '';
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
    n_ctx: params.nCtx,
    n_gpu_layers: params.nGpuLayers,
    lib_variant: params.libVariant,
    ...(params.nThreads > 0 ? { n_threads: params.nThreads } : {}),
    // One sequence: a desktop app answers one message at a time; more slots only cost memory.
    n_parallel: 1,
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
  ctx = next;
  loaded = params;
  return { libVariant: params.libVariant, usedDevices: next.getUsedDevices(), vision, loadMs: performance.now() - started };
}

/** The binding leaves a context stuck after a failed completion; only a fresh one recovers. */
async function reload(id: number): Promise<void> {
  if (!loaded) return;
  emit(id, { kind: 'phase', phase: 'reloading' });
  await load(loaded);
}

function emit(id: number, event: WorkerEvent): void {
  send({ type: 'event', id, event });
}

const BUSY = /Another completion is in progress/;
type CompletionOptions = Parameters<Context['completion']>[0];
type TokenCallback = NonNullable<Parameters<Context['completion']>[1]>;

/**
 * The binding clears its "busy" mark only after the native worker started, so a completion that
 * finishes very fast can leave the context refusing the next call. Wait a moment and retry; if it
 * is still stuck, a fresh context recovers (the KV cache is lost, nothing else).
 */
async function completeWithRetry(options: CompletionOptions, onToken: TokenCallback, nothingStreamed: () => boolean) {
  for (let attempt = 0; ; attempt++) {
    if (!ctx) throw new WorkerFailure({ code: 'NO_MODEL', message: 'No model is loaded' });
    try {
      return await ctx.completion(options, onToken);
    } catch (err) {
      const stuck = BUSY.test(err instanceof Error ? err.message : String(err));
      if (!stuck || attempt >= 2 || !nothingStreamed()) throw err;
      if (attempt === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      else if (loaded) {
        process.stderr.write(`${BUSY_RELOAD_MARKER}\n`);
        await load(loaded);
      }
    }
  }
}

function bindingFormat(format: ResponseFormat): NonNullable<CompletionOptions['response_format']> {
  return format.type === 'json_schema' ? { type: 'json_schema', json_schema: { strict: true, schema: format.schema } } : { type: 'json_object' };
}

const contextFull = (detail: string): WorkerFailure =>
  new WorkerFailure({
    code: 'CONTEXT_FULL',
    message: `This conversation is longer than the model's context (${loaded?.nCtx ?? 0} tokens): start a new chat or delete older messages`,
    detail,
  });

/**
 * A completion that fails on its image leaves the context stuck (a reload, seconds on a big model),
 * so a missing, empty, foreign or truncated file is refused before it starts. A structural check
 * of the bytes, not a decode: the binding's tokenizer would read the image too, but that doubles
 * the decode (0.85-1.8 s for a 12 MP image on the 2-core dev host).
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

async function complete(id: number, p: CompleteParams): Promise<CompleteResult> {
  if (!ctx) throw new WorkerFailure({ code: 'NO_MODEL', message: 'No model is loaded' });
  if (p.mediaPaths.length > 0 && !ctx.isMultimodalEnabled()) {
    throw new WorkerFailure({ code: 'IMAGE_INVALID', message: 'This model was loaded without a vision projector, so it cannot see images' });
  }
  const media = p.mediaPaths.join('\n');
  const marker = lastPrompt.indexOf(MEDIA_MARKER);
  // Same image at the same place as last time: the cached prefix already holds its embedding.
  const imageCached =
    media !== '' && media === lastMedia && marker >= 0 && p.prompt.startsWith(lastPrompt.slice(0, marker + MEDIA_MARKER.length));
  if (media && !imageCached) {
    await checkMedia(p.mediaPaths);
    // Stopped while the image was read: nothing ran yet.
    if (cancelled.has(id)) {
      return { text: '', promptTokens: 0, promptEvaluated: 0, completionTokens: 0, interrupted: true, contextFull: false, hitLimit: false, promptMs: 0, predictedMs: 0, firstTokenMs: null };
    }
  }
  emit(id, { kind: 'phase', phase: media && !imageCached ? 'encoding-image' : 'evaluating-prompt' });

  const coalescer = new TokenCoalescer((text) => emit(id, { kind: 'delta', text }), DELTA_FLUSH_MS);
  const started = performance.now();
  let firstTokenMs: number | null = null;
  let streamed = '';
  let finished = false;
  let tokenCallbacks = 0;
  const onToken = (text: string): void => {
    if (firstTokenMs === null) {
      firstTokenMs = performance.now() - started;
      emit(id, { kind: 'phase', phase: 'generating' });
    }
    streamed += text;
    coalescer.push(text);
  };
  activeId = id;
  try {
    const result = await completeWithRetry(
      {
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
        ...SAMPLER_OVERRIDES,
      },
      (token) => {
        tokenCallbacks++;
        // The binding can deliver token callbacks after completion() resolved; the final text has them.
        if (!finished) onToken(token.token);
      },
      () => streamed === '',
    );
    finished = true;
    // The prompt alone filled the context: nothing was generated, so this is an error, not an empty answer.
    if (result.context_full && result.tokens_predicted === 0 && result.text === '') {
      lastPrompt = '';
      lastMedia = '';
      throw contextFull(`full before the first token; prompt of ${p.prompt.length} characters`);
    }
    if (result.text.startsWith(streamed) && result.text.length > streamed.length) onToken(result.text.slice(streamed.length));
    coalescer.flush();
    // Text and cache both contain the answer now; the next turn's prompt extends this one.
    lastPrompt = p.prompt + result.text;
    lastMedia = media;
    // tokens_evaluated counts the prompt plus the generated tokens; prompt_n only what was not cached.
    const promptTokens = Math.max(0, result.tokens_evaluated - result.tokens_predicted);
    return {
      text: result.text,
      promptTokens,
      promptEvaluated: result.timings.prompt_n,
      // For text prompts the binding reports one token fewer than it generated; its stopped_limited
      // flag is right, and a limit-stopped answer has exactly n_predict tokens.
      completionTokens: result.stopped_limited ? p.nPredict : Math.max(result.tokens_predicted, tokenCallbacks),
      interrupted: result.interrupted || cancelled.has(id),
      contextFull: result.context_full,
      hitLimit: !result.interrupted && !result.context_full && result.stopped_limited === true,
      promptMs: result.timings.prompt_ms,
      predictedMs: result.timings.predicted_ms,
      firstTokenMs,
    };
  } catch (err) {
    finished = true;
    coalescer.flush();
    if (err instanceof WorkerFailure) throw err;
    const message = err instanceof Error ? err.message : String(err);
    await reload(id);
    if (/context/i.test(message) && /(space|full|size)/i.test(message)) throw contextFull(message);
    if (p.mediaPaths.length > 0 && /(image|media|bitmap|load|decode)/i.test(message)) {
      throw new WorkerFailure({ code: 'IMAGE_INVALID', message: 'The engine could not read this image', detail: message });
    }
    throw new WorkerFailure({ code: 'GENERATION_FAILED', message: `Generation failed: ${message}` });
  } finally {
    activeId = null;
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
    if (activeId === message.id) ctx?.stopCompletion();
    return;
  }
  const { id, kind, params } = message;
  if (busy) {
    send({ type: 'result', id, ok: false, error: { code: 'ENGINE_BUSY', message: 'The engine is busy with another request' } });
    return;
  }
  busy = true;
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
    busy = false;
  }
}

if (parentPort) parentPort.on('message', (e) => void onMessage(e.data));
else process.on('message', (m) => void onMessage(m as HostToWorker));
// A lost parent means nobody can use the loaded model: exit instead of holding GPU memory.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready', pid: process.pid });
