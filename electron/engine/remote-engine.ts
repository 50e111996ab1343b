// An Engine over any OpenAI-compatible endpoint (a vLLM cluster serving LLaVA, Fireworks' hosted
// FireLLaVA, or another FireLLaVA Desktop): streamed chat completions, stop through AbortSignal,
// images sent inline as data: URLs. The single-image policy is the local engine's, so a
// conversation reads the same whichever engine answers it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AppError, ErrorCode, Result } from '../shared/errors';
import { readSse } from '../shared/sse-reader';
import type { EngineStatus, FinishReason, GenerateEvent } from '../shared/types';
import type { Engine, GenerateRequest, ModelPair, ResponseFormat } from './engine';
import { formatFireLlavaPrompt, OMITTED_IMAGE_TEXT } from './prompt-format';
import { formatRawPrompt } from './raw-prompt';

export interface RemoteEngineOptions {
  /** Ends in /v1 for most servers, e.g. https://api.fireworks.ai/inference/v1. */
  baseUrl: string;
  apiKey: string;
  /** e.g. accounts/fireworks/models/firellava-13b */
  model: string;
  /** Send llama.cpp/vLLM's top_k; off for servers that reject unknown fields (OpenAI itself). */
  sendTopK?: boolean;
  /** Time limit for the connection check (load, listModels). */
  connectTimeoutMs?: number;
  /**
   * Time limit for an answer's response headers. Servers like ours send them with the first token,
   * so this covers image encoding and prompt evaluation too; the stream itself may run longer.
   */
  headersTimeoutMs?: number;
  fetch?: typeof fetch;
}

type Terminal = GenerateEvent & { type: 'done' | 'error' };

const MIME_OF: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.bmp': 'image/bmp' };

async function dataUrlOf(file: string): Promise<string> {
  const mime = MIME_OF[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  return `data:${mime};base64,${(await readFile(file)).toString('base64')}`;
}

const CODE_OF_STATUS = (status: number): ErrorCode =>
  status === 400 ? 'INVALID_INPUT' : status === 401 || status === 403 ? 'FORBIDDEN' : status === 404 ? 'NOT_FOUND' : status === 413 ? 'IMAGE_TOO_LARGE' : status === 429 ? 'ENGINE_BUSY' : status === 503 ? 'NO_MODEL' : 'GENERATION_FAILED';

function openAiFormat(format: ResponseFormat): Record<string, unknown> {
  return format.type === 'json_schema' ? { type: 'json_schema', json_schema: { name: 'output', strict: true, schema: format.schema } } : { type: 'json_object' };
}

/** fetch's own messages ("fetch failed") say nothing: name the cause a person can act on. */
function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running, and is the port right?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was cut';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'the connection timed out';
  if (code && /CERT|SSL|TLS/.test(code)) return `TLS certificate problem (${code})`;
  // fetch refuses ports reserved for other protocols (e.g. 9, 25, 6000) before connecting.
  if ((e?.cause?.message ?? '') === 'bad port') return 'this port is reserved for another protocol and cannot be used for HTTP: run the server on another port';
  return e?.cause?.message ?? e?.message ?? String(err);
}

export class RemoteEngine implements Engine {
  private readonly listeners = new Set<(status: EngineStatus) => void>();
  private current: EngineStatus;
  private readonly baseUrl: string;

  constructor(private readonly options: RemoteEngineOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.current = {
      state: 'ready',
      message: `Remote: ${options.model} at ${this.host()}`,
      model: { name: options.model, path: this.baseUrl, mmprojPath: null, vision: true, quantization: null },
      device: { backend: 'remote', name: this.host(), memoryBytes: null },
      gpuLayers: null,
      fallbackReason: null,
      error: null,
      progress: null,
    };
  }

  status(): EngineStatus {
    return this.current;
  }

  onStatus(listener: (status: EngineStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The model lives on the server: this only checks that the endpoint answers and knows the key. */
  async load(_pair?: ModelPair): Promise<Result<EngineStatus>> {
    const listed = await this.listModels();
    if (!listed.ok) return this.fail(listed.error);
    this.setStatus({ state: 'ready', message: `Remote: ${this.options.model} at ${this.host()}`, error: null });
    return { ok: true, value: this.current };
  }

  /** GET {baseUrl}/models with the key: the model names the endpoint serves. */
  async listModels(): Promise<Result<string[]>> {
    const timeoutMs = this.options.connectTimeoutMs ?? 15_000;
    try {
      const response = await this.fetch(`${this.baseUrl}/models`, { headers: this.headers() }, AbortSignal.timeout(timeoutMs));
      if (!response.ok) return { ok: false, error: await this.httpError(response) };
      const body = (await response.json().catch(() => null)) as { data?: { id?: unknown }[] } | null;
      if (!body || !Array.isArray(body.data)) {
        return { ok: false, error: { code: 'MODEL_LOAD_FAILED', message: `${this.baseUrl}/models did not answer with a model list: is this the API's base URL (it usually ends in /v1)?` } };
      }
      return { ok: true, value: body.data.flatMap((m) => (typeof m.id === 'string' ? [m.id] : [])) };
    } catch (err) {
      return { ok: false, error: { code: 'MODEL_LOAD_FAILED', message: `Cannot reach the remote engine at ${this.host()}: ${describeFetchError(err, timeoutMs)}` } };
    }
  }

  async generate(request: GenerateRequest, onEvent: (event: GenerateEvent) => void, signal?: AbortSignal): Promise<Terminal> {
    const accepted = performance.now();
    if (signal?.aborted) return { type: 'error', error: { code: 'CANCELLED', message: 'Stopped before the answer started' } };
    const raw = request.rawPrompt !== undefined;
    const formatted = raw ? formatRawPrompt(request.rawPrompt!, request.turns) : formatFireLlavaPrompt(request.system, request.turns);
    onEvent({ type: 'image', attachmentId: formatted.usedImageId, ignoredAttachmentIds: formatted.ignoredImageIds });

    const p = request.params;
    const body: Record<string, unknown> = {
      model: this.options.model,
      max_tokens: p.maxTokens,
      temperature: p.temperature,
      top_p: p.topP,
      stream: true,
      stream_options: { include_usage: true },
      ...(this.options.sendTopK === false ? {} : { top_k: p.topK }),
      ...(p.seed >= 0 ? { seed: p.seed } : {}),
      ...(p.stop.length > 0 ? { stop: p.stop } : {}),
      ...(p.presencePenalty ? { presence_penalty: p.presencePenalty } : {}),
      ...(p.frequencyPenalty ? { frequency_penalty: p.frequencyPenalty } : {}),
      ...(request.responseFormat ? { response_format: openAiFormat(request.responseFormat) } : {}),
    };
    const usedPath = formatted.mediaPaths[0] ?? null;
    if (raw) {
      // Fireworks' completions extension: the image rides beside the prompt, placed at <image>.
      body.prompt = request.rawPrompt;
      if (usedPath) body.images = [await dataUrlOf(usedPath)];
    } else {
      const messages: unknown[] = [];
      if (request.system.trim()) messages.push({ role: 'system', content: request.system });
      for (const turn of request.turns) {
        if (turn.role === 'assistant' || turn.images.length === 0) {
          messages.push({ role: turn.role, content: turn.text });
          continue;
        }
        const parts: unknown[] = [];
        for (const image of turn.images) {
          parts.push(image.id === formatted.usedImageId ? { type: 'image_url', image_url: { url: await dataUrlOf(image.path) } } : { type: 'text', text: OMITTED_IMAGE_TEXT });
        }
        parts.push({ type: 'text', text: turn.text });
        messages.push({ role: 'user', content: parts });
      }
      body.messages = messages;
    }

    onEvent({ type: 'phase', phase: usedPath ? 'encoding-image' : 'evaluating-prompt' });
    const headersTimeoutMs = this.options.headersTimeoutMs ?? 120_000;
    let text = '';
    let firstAt: number | null = null;
    let finish: FinishReason = 'stop';
    let usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0 };
    try {
      // The time limit holds until the headers arrive; after that only the caller's signal stops the stream.
      const headersDue = new AbortController();
      const timer = setTimeout(() => headersDue.abort(new DOMException('headers timeout', 'TimeoutError')), headersTimeoutMs);
      let response: Response;
      try {
        response = await this.fetch(
          `${this.baseUrl}/${raw ? 'completions' : 'chat/completions'}`,
          { method: 'POST', headers: { ...this.headers(), 'Content-Type': 'application/json', Accept: 'text/event-stream' }, body: JSON.stringify(body) },
          signal ? AbortSignal.any([signal, headersDue.signal]) : headersDue.signal,
        );
      } finally {
        clearTimeout(timer);
      }
      if (!response.ok || !response.body) return { type: 'error', error: await this.httpError(response) };
      for await (const { data } of readSse(response.body)) {
        if (data === '[DONE]') break;
        const chunk = JSON.parse(data) as {
          error?: { message?: string };
          choices?: { delta?: { content?: string | null }; text?: string; finish_reason?: string | null }[];
          usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } | null;
        };
        if (chunk.error) return { type: 'error', error: { code: 'GENERATION_FAILED', message: `The remote engine failed: ${chunk.error.message ?? 'unknown error'}` } };
        for (const choice of chunk.choices ?? []) {
          const delta = raw ? choice.text : choice.delta?.content;
          if (delta) {
            if (firstAt === null) {
              firstAt = performance.now();
              onEvent({ type: 'phase', phase: 'generating' });
            }
            text += delta;
            onEvent({ type: 'delta', text: delta });
          }
          if (choice.finish_reason) finish = choice.finish_reason === 'length' ? 'length' : 'stop';
        }
        if (chunk.usage) {
          usage = {
            promptTokens: chunk.usage.prompt_tokens ?? 0,
            cachedTokens: chunk.usage.prompt_tokens_details?.cached_tokens ?? 0,
            completionTokens: chunk.usage.completion_tokens ?? 0,
          };
        }
      }
    } catch (err) {
      if (!signal?.aborted) {
        return { type: 'error', error: { code: 'GENERATION_FAILED', message: `The remote engine at ${this.host()} failed: ${describeFetchError(err, headersTimeoutMs)}` } };
      }
      if (firstAt === null) return { type: 'error', error: { code: 'CANCELLED', message: 'Stopped before the answer started' } };
      finish = 'cancelled';
    }
    if (signal?.aborted) finish = 'cancelled';
    const end = performance.now();
    return {
      type: 'done',
      finishReason: finish,
      text,
      usage,
      timings: {
        ttftMs: (firstAt ?? end) - accepted,
        tokensPerSecond: firstAt !== null && end > firstAt && usage.completionTokens > 1 ? ((usage.completionTokens - 1) * 1000) / (end - firstAt) : 0,
        promptMs: 0,
        totalMs: end - accepted,
      },
    };
  }

  async dispose(): Promise<void> {
    this.listeners.clear();
  }

  // ---------------------------------------------------------------------------------------------

  private host(): string {
    try {
      return new URL(this.baseUrl).host;
    } catch {
      return this.baseUrl;
    }
  }

  private headers(): Record<string, string> {
    // An empty key: a server without authentication (a local vLLM or llama.cpp server).
    return this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {};
  }

  private fetch(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    return (this.options.fetch ?? fetch)(url, signal ? { ...init, signal } : init);
  }

  private async httpError(response: Response): Promise<AppError> {
    let message = `HTTP ${response.status}`;
    try {
      const body = (await response.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      // not JSON: the status says enough
    }
    return { code: CODE_OF_STATUS(response.status), message: `The remote engine refused the request (${response.status}): ${message}` };
  }

  private fail(error: AppError): Result<EngineStatus> {
    this.setStatus({ state: 'error', message: error.message, error });
    return { ok: false, error };
  }

  private setStatus(patch: Partial<EngineStatus>): void {
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener(this.current);
  }
}

export function createRemoteEngine(options: RemoteEngineOptions): RemoteEngine {
  return new RemoteEngine(options);
}
