// The OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions, POST /v1/completions)
// over the app's one Engine: same queue, same attachment store, same prompt format and
// single-image policy as the chat UI. Mounted under /v1 of `firellava serve`, or on its own port.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine, EngineTurn, GenerateRequest } from '../engine/engine';
import { generationLimitOf } from '../engine/generation-limit';
import { RAW_IMAGE_MARKER } from '../engine/raw-prompt';
import { allowedHostSet, isAllowedHost, keysEqual } from '../server/auth';
import { BodyTooLarge, readBody } from '../server/http-io';
import type { GenerationParams } from '../shared/contract';
import { toAppError } from '../shared/errors';
import type { EngineStatus, FinishReason, GenerateEvent } from '../shared/types';
import { ApiError, badRequest, fromAppError } from './api-errors';
import {
  chatCompletionRequest,
  completionRequest,
  parseBody,
  refuseUnsupported,
  type ChatCompletionRequest,
  type ChatMessage,
  type ContentPart,
  type CompletionRequest,
} from './api-schemas';
import { storeImageUrl, type StoredImage } from './image-input';
import { toEngineFormat } from './response-format';
import { withRequestLog, type RequestLog } from './request-log';
import { createResponsesHandler } from './responses-api';

export const API_PREFIX = '/v1';
import { API_MAX_BODY_BYTES, megabytes } from '../shared/limits';

export { API_MAX_BODY_BYTES };
/** OpenAI generates until the context is full; a bound keeps a forgotten client from holding the queue. */
export const DEFAULT_MAX_TOKENS = 2048;
/** Names accepted for the loaded model besides its file name (Fireworks' ids, so their examples run unchanged). */
export const MODEL_ALIASES: readonly string[] = ['firellava-13b', 'firellava', 'accounts/fireworks/models/firellava-13b'];

export interface OpenAiApiOptions {
  engine: Engine;
  attachments: AttachmentStore;
  /** A function so a rotated key applies to the next request. */
  apiKey: string | (() => string);
  /** Host header names accepted besides the loopback names (the configured bind host). */
  allowedHosts?: readonly string[];
  /** Browser origins allowed to call the API (CORS); none by default. */
  corsOrigins?: readonly string[];
  /** Download http(s) image URLs; off by default (offline-first). */
  fetchImages?: boolean;
  maxBodyBytes?: number;
  /** Engine requests (running + waiting) at which new ones get 429. */
  maxPending?: number;
  /** Receives one line per request (id, method, route, status, ms); none by default. */
  log?: RequestLog;
}

export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export const isApiPath = (pathname: string): boolean => pathname === API_PREFIX || pathname.startsWith(`${API_PREFIX}/`);

const newId = (prefix: string): string => `${prefix}-${randomBytes(12).toString('hex')}`;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
/** A model's `created`: its file's time, as OpenAI lists when a model was made. */
const createdOf = (file: string): number => {
  try {
    return Math.floor(statSync(file).mtimeMs / 1000);
  } catch {
    return 0;
  }
};


interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

const openAiFinish = (reason: FinishReason): 'stop' | 'length' => (reason === 'length' || reason === 'context-full' ? 'length' : 'stop');

export function modelIdOf(status: EngineStatus): string | null {
  return status.model ? path.basename(status.model.path).replace(/\.gguf$/i, '') : null;
}

export function createOpenAiApi(options: OpenAiApiOptions): ApiHandler {
  const { engine, attachments } = options;
  const keyOf = typeof options.apiKey === 'function' ? options.apiKey : () => options.apiKey as string;
  const allowedHosts = allowedHostSet(options.allowedHosts);
  const corsOrigins = new Set((options.corsOrigins ?? []).map((o) => o.replace(/\/+$/, '').toLowerCase()));
  const maxBody = options.maxBodyBytes ?? API_MAX_BODY_BYTES;
  const limit = generationLimitOf(engine);
  const maxPending = options.maxPending ?? limit.max;
  const imageOptions = { attachments, fetchImages: options.fetchImages ?? false, seen: new Map<string, StoredImage>() };

  const baseHeaders = (res: ServerResponse): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const sendError = (res: ServerResponse, error: ApiError): void => sendJson(res, error.status, error.body(), error.headers);

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    const text = await readBody(req, maxBody);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`We could not parse the JSON body of your request: ${(err as Error).message}`, null, 'invalid_json');
    }
  };

  const refuseTooLarge = (req: IncomingMessage, res: ServerResponse): void => {
    const error = new ApiError(413, `The request body is larger than the ${megabytes(maxBody)} limit of this API; send smaller images.`, 'invalid_request_error', 'request_too_large');
    // Answer once the upload is in: clients that are still sending read a reset, not the 413.
    // A body far beyond the limit is cut off instead of read to the end.
    let drained = 0;
    const onData = (chunk: Buffer): void => {
      drained += chunk.length;
      if (drained > maxBody * 4) {
        req.off('data', onData);
        sendError(res, new ApiError(413, error.message, error.type, error.code, null, { Connection: 'close' }));
        res.once('finish', () => req.destroy());
      }
    };
    req.on('data', onData);
    req.once('end', () => sendError(res, error));
    req.resume();
  };

  // --- model ------------------------------------------------------------------------------------

  const requireModel = (requested: string): string => {
    const status = engine.status();
    const id = modelIdOf(status);
    if (!id || !status.model) {
      throw new ApiError(503, 'No model is loaded: load FireLLaVA in the app (or start "firellava serve --model ...") and try again', 'server_error', 'model_not_loaded', null, { 'Retry-After': '10' });
    }
    if (status.state === 'loading') throw new ApiError(503, `The model is loading (${status.message})`, 'server_error', 'model_loading', null, { 'Retry-After': '2' });
    const names = [id, status.model.name, ...MODEL_ALIASES].map((n) => n.toLowerCase());
    if (!names.includes(requested.toLowerCase())) {
      throw new ApiError(404, `The model \`${requested.slice(0, 200)}\` does not exist. This server serves \`${id}\`.`, 'invalid_request_error', 'model_not_found', 'model');
    }
    return id;
  };

  const listModels = (): unknown => {
    const status = engine.status();
    const id = modelIdOf(status);
    return { object: 'list', data: id && status.model ? [{ id, object: 'model', created: createdOf(status.model.path), owned_by: 'local' }] : [] };
  };

  // --- request → engine -------------------------------------------------------------------------

  const paramsOf = (body: ChatCompletionRequest | CompletionRequest, maxTokens: number | null | undefined): GenerationParams => {
    const temperature = body.temperature ?? 1;
    const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
    return {
      maxTokens: maxTokens ?? DEFAULT_MAX_TOKENS,
      temperature,
      // temperature 0 is not reproducible in llama.cpp; top_k 1 is greedy and is.
      topK: temperature === 0 ? 1 : (body.top_k ?? 40),
      topP: body.top_p ?? 1,
      seed: body.seed == null ? -1 : ((body.seed % 2 ** 31) + 2 ** 31) % 2 ** 31,
      stop,
      ...(body.presence_penalty != null ? { presencePenalty: body.presence_penalty } : {}),
      ...(body.frequency_penalty != null ? { frequencyPenalty: body.frequency_penalty } : {}),
    };
  };

  /** The image URL of an image part (image_url, or a file part carrying an image), else null. */
  const imageUrlOf = (part: ContentPart, param: string): string | null => {
    if (part.type === 'image_url') {
      const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
      if (!url) throw badRequest(`${param}.image_url needs a url`, `${param}.image_url`);
      return url;
    }
    if (part.type !== 'file') return null;
    const data = part.file?.file_data;
    if (!data) throw badRequest(`${param}.file needs file_data (a data: URL); uploaded file ids are not supported`, `${param}.file`);
    const mime = /^data:([^;,]*)/i.exec(data)?.[1]?.toLowerCase() ?? '';
    if (!mime.startsWith('image/')) {
      throw badRequest(`${param}.file is ${mime ? `"${mime.slice(0, 60)}"` : 'not a data: URL'}: FireLLaVA reads only image files`, `${param}.file`);
    }
    return data;
  };
  const isImagePart = (part: ContentPart): boolean => part.type === 'image_url' || part.type === 'file';

  const textOf = (m: ChatMessage, i: number): string => {
    if (m.content == null) return '';
    if (typeof m.content === 'string') return m.content;
    return m.content
      .map((part, j) => {
        if (part.type === 'text') {
          if (typeof part.text !== 'string') throw badRequest(`messages[${i}].content[${j}] has type "text" but no text`, `messages[${i}].content[${j}].text`);
          return part.text;
        }
        if (isImagePart(part)) {
          imageUrlOf(part, `messages[${i}].content[${j}]`);
          return null;
        }
        throw badRequest(`Content part type "${part.type.slice(0, 40)}" is not supported; use "text", "image_url" or an image "file"`, `messages[${i}].content[${j}].type`);
      })
      .filter((t): t is string => t !== null)
      .join('\n');
  };

  const chatTurns = async (messages: ChatMessage[]): Promise<{ system: string; turns: EngineTurn[] }> => {
    const system: string[] = [];
    const turns: EngineTurn[] = [];
    // Validate every message before storing any image, so a bad request stores nothing.
    const texts = messages.map((m, i) => {
      if (m.role === 'tool' || m.role === 'function') throw badRequest(`messages[${i}]: "${m.role}" messages are not supported (no function calling)`, `messages[${i}].role`);
      if (m.role !== 'user' && Array.isArray(m.content) && m.content.some(isImagePart)) {
        throw badRequest(`messages[${i}]: only user messages may contain images`, `messages[${i}].content`);
      }
      return textOf(m, i);
    });
    for (const [i, m] of messages.entries()) {
      const text = texts[i]!;
      if (m.role === 'system' || m.role === 'developer') {
        if (text.trim()) system.push(text);
        continue;
      }
      const images: StoredImage[] = [];
      if (Array.isArray(m.content)) {
        for (const [j, part] of m.content.entries()) {
          const url = imageUrlOf(part, `messages[${i}].content[${j}]`);
          if (url === null) continue;
          images.push(await storeImageUrl(url, `messages[${i}].content[${j}].${part.type === 'file' ? 'file' : 'image_url'}`, imageOptions));
        }
      }
      const role = m.role === 'assistant' ? 'assistant' : 'user';
      const last = turns[turns.length - 1];
      // FireLLaVA's format alternates USER/ASSISTANT: consecutive messages of one role merge.
      if (last && last.role === role) {
        last.text = [last.text, text].filter((t) => t !== '').join('\n\n');
        last.images.push(...images);
      } else {
        turns.push({ role, text, images });
      }
    }
    if (turns.length === 0) throw badRequest('messages must contain at least one user or assistant message', 'messages');
    // A last assistant message is a prefill: the prompt ends inside that answer and the model
    // continues it (prompt-format.ts); a leading one is a greeting.
    return { system: system.join('\n\n'), turns };
  };

  // Requests still decoding their images hold a slot too: a burst of image bombs must meet the 429
  // before it decodes, not after. The slots are the engine's, shared with /rpc sends.
  const checkQueue = (): (() => void) => {
    try {
      return limit.take(maxPending);
    } catch (err) {
      const busy = toAppError(err);
      throw new ApiError(429, busy.message, 'rate_limit_error', 'queue_full', null, { 'Retry-After': String(busy.retryAfterSeconds ?? 1) });
    }
  };

  // --- generation and responses ------------------------------------------------------------------

  interface Shape {
    id: string;
    created: number;
    model: string;
    kind: 'chat' | 'completion';
    stream: boolean;
    includeUsage: boolean;
  }

  const usageOf = (event: GenerateEvent & { type: 'done' }): Usage => ({
    prompt_tokens: event.usage.promptTokens,
    completion_tokens: event.usage.completionTokens,
    total_tokens: event.usage.promptTokens + event.usage.completionTokens,
    prompt_tokens_details: { cached_tokens: event.usage.cachedTokens },
  });

  const chunk = (s: Shape, choice: Record<string, unknown> | null, usage?: Usage): unknown => ({
    id: s.id,
    object: s.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: s.created,
    model: s.model,
    choices: choice ? [{ index: 0, ...choice, logprobs: null }] : [],
    ...(s.includeUsage ? { usage: usage ?? null } : {}),
  });

  const run = async (req: IncomingMessage, res: ServerResponse, s: Shape, request: GenerateRequest): Promise<void> => {
    const controller = new AbortController();
    // The client hung up: stop generating at once so the next request is not kept waiting.
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    // (req.destroyed is true once its body was read; the socket says whether the client left.)
    if (res.destroyed || req.socket.destroyed) controller.abort();

    let started = false;
    const write = (data: unknown): void => {
      if (!res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    // Headers wait for the first token, so errors before it still get their proper status.
    const start = (): void => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
      res.flushHeaders();
      if (s.kind === 'chat') write(chunk(s, { delta: { role: 'assistant', content: '' }, finish_reason: null }));
    };
    const began = performance.now();
    const sendDelta = (text: string): void => {
      start();
      write(chunk(s, s.kind === 'chat' ? { delta: { content: text }, finish_reason: null } : { text, finish_reason: null }));
    };
    // The engine worker absorbs the binding's races (late token callbacks, a context left busy).
    const terminal = await engine.generate(
      request,
      (event) => {
        if (s.stream && event.type === 'delta' && event.text !== '') sendDelta(event.text);
      },
      controller.signal,
    );
    limit.recordDuration(performance.now() - began);
    if (controller.signal.aborted || res.destroyed) return;

    if (terminal.type === 'error') {
      // OpenAI names the field that overflowed the context.
      const error = fromAppError(terminal.error, terminal.error.code === 'CONTEXT_FULL' ? (s.kind === 'chat' ? 'messages' : 'prompt') : null);
      if (!started) return sendError(res, error);
      write(error.body());
      res.end();
      return;
    }
    const finish = openAiFinish(terminal.finishReason);
    const usage = usageOf(terminal);
    if (s.stream) {
      start();
      write(chunk(s, s.kind === 'chat' ? { delta: {}, finish_reason: finish } : { text: '', finish_reason: finish }));
      if (s.includeUsage) write(chunk(s, null, usage));
      res.end('data: [DONE]\n\n');
      return;
    }
    const choice =
      s.kind === 'chat'
        ? { index: 0, message: { role: 'assistant', content: terminal.text, refusal: null }, logprobs: null, finish_reason: finish }
        : { index: 0, text: terminal.text, logprobs: null, finish_reason: finish };
    sendJson(res, 200, {
      id: s.id,
      object: s.kind === 'chat' ? 'chat.completion' : 'text_completion',
      created: s.created,
      model: s.model,
      choices: [choice],
      usage,
    });
  };

  const chatCompletions = async (req: IncomingMessage, res: ServerResponse, raw: unknown): Promise<void> => {
    const body = parseBody(chatCompletionRequest, raw);
    refuseUnsupported(body);
    const responseFormat = toEngineFormat(body.response_format);
    requireModel(body.model);
    const release = checkQueue();
    const { system, turns } = await chatTurns(body.messages).finally(release);
    const s: Shape = { id: newId('chatcmpl'), created: nowSeconds(), model: body.model, kind: 'chat', stream: body.stream === true, includeUsage: body.stream === true && body.stream_options?.include_usage === true };
    await run(req, res, s, { conversationId: s.id, cacheBy: 'prefix', system, turns, params: paramsOf(body, body.max_completion_tokens ?? body.max_tokens), responseFormat });
  };

  const completions = async (req: IncomingMessage, res: ServerResponse, raw: unknown): Promise<void> => {
    const body = parseBody(completionRequest, raw);
    refuseUnsupported(body);
    const responseFormat = toEngineFormat(body.response_format);
    if (Array.isArray(body.prompt) && body.prompt.length !== 1) throw badRequest(`Send one prompt per request (got ${body.prompt.length}): FireLLaVA answers one prompt at a time`, 'prompt', 'unsupported_parameter');
    const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0];
    if (typeof prompt !== 'string') throw badRequest('prompt must be a string (token arrays are not supported)', 'prompt');
    if (body.echo) throw badRequest('echo is not supported by this server', 'echo', 'unsupported_parameter');
    if (body.best_of != null && body.best_of !== 1) throw badRequest('best_of must be 1', 'best_of', 'unsupported_parameter');
    if (body.suffix) throw badRequest('suffix (insertion) is not supported by FireLLaVA', 'suffix', 'unsupported_parameter');
    const urls = body.images ?? [];
    if (urls.length > 1) throw badRequest('FireLLaVA sees one image per request: send at most one entry in images', 'images');
    if (prompt.split(RAW_IMAGE_MARKER).length - 1 > 1) throw badRequest(`The prompt may contain at most one ${RAW_IMAGE_MARKER} marker (FireLLaVA sees one image)`, 'prompt');
    requireModel(body.model);
    const release = checkQueue();
    const images: StoredImage[] = [];
    try {
      for (const [i, url] of urls.entries()) images.push(await storeImageUrl(url, `images[${i}]`, imageOptions));
    } finally {
      release();
    }
    const s: Shape = { id: newId('cmpl'), created: nowSeconds(), model: body.model, kind: 'completion', stream: body.stream === true, includeUsage: body.stream === true && body.stream_options?.include_usage === true };
    await run(req, res, s, { conversationId: s.id, cacheBy: 'none', system: '', turns: [{ role: 'user', text: '', images }], rawPrompt: prompt, params: paramsOf(body, body.max_tokens), responseFormat });
  };

  const responses = createResponsesHandler({
    engine,
    requireModel,
    checkQueue,
    chatTurns,
    paramsOf,
    sendJson,
    sendError,
    onDuration: (ms) => limit.recordDuration(ms),
  });

  // --- access control and routing ----------------------------------------------------------------

  /** CORS headers for an allowed origin; throws 403 for a foreign one. */
  const checkOrigin = (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    if (origin === `http://${req.headers.host}`) return false; // same origin: the web UI
    if (!corsOrigins.has(origin.toLowerCase())) {
      throw new ApiError(403, 'Cross-origin requests to this API are not allowed: add the origin to the API\'s allowed origins', 'permission_error', 'origin_not_allowed');
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', 'Retry-After, x-request-id');
    return true;
  };

  const authorize = (req: IncomingMessage): void => {
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) {
      throw new ApiError(401, 'You didn\'t provide an API key: send "Authorization: Bearer <key>" (the key is shown in the app\'s settings or printed by "firellava serve").', 'authentication_error', 'missing_api_key', null, {
        'WWW-Authenticate': 'Bearer',
      });
    }
    if (!keysEqual(m[1]!, keyOf())) {
      throw new ApiError(401, 'Incorrect API key provided.', 'authentication_error', 'invalid_api_key', null, { 'WWW-Authenticate': 'Bearer' });
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    baseHeaders(res);
    if (!isAllowedHost(req.headers.host, allowedHosts)) {
      throw new ApiError(403, 'Unexpected Host header: call the API through 127.0.0.1 or localhost (or the configured host name)', 'permission_error', 'host_not_allowed');
    }
    const cors = checkOrigin(req, res);
    if (req.method === 'OPTIONS') {
      if (!cors) throw new ApiError(403, 'CORS preflight refused: no allowed origins are configured for this API', 'permission_error', 'origin_not_allowed');
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    authorize(req);

    const url = new URL(req.url ?? '/', 'http://placeholder');
    const route = url.pathname.replace(/\/+$/, '');
    const post = (handler: (req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void>): Promise<void> | void => {
      if (req.method !== 'POST') throw new ApiError(405, `Use POST for ${route}`, 'invalid_request_error', 'method_not_allowed', null, { Allow: 'POST' });
      return readJson(req).then(
        (body) => handler(req, res, body),
        (err: unknown) => {
          if (err instanceof BodyTooLarge) return refuseTooLarge(req, res);
          throw err;
        },
      );
    };
    if (route === `${API_PREFIX}/chat/completions`) return post(chatCompletions);
    if (route === `${API_PREFIX}/completions`) return post(completions);
    if (route === `${API_PREFIX}/responses`) return post(responses);
    if (route === `${API_PREFIX}/models` || route.startsWith(`${API_PREFIX}/models/`)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, `Use GET for ${route}`, 'invalid_request_error', 'method_not_allowed', null, { Allow: 'GET' });
      if (route === `${API_PREFIX}/models`) return sendJson(res, 200, listModels());
      const wanted = decodeURIComponent(route.slice(`${API_PREFIX}/models/`.length));
      const models = (listModels() as { data: { id: string }[] }).data;
      // The aliases chat accepts resolve to the loaded model, under the name asked for.
      const alias = models[0] && MODEL_ALIASES.some((a) => a.toLowerCase() === wanted.toLowerCase()) ? { ...models[0], id: wanted } : undefined;
      const model = models.find((m) => m.id.toLowerCase() === wanted.toLowerCase()) ?? alias;
      if (!model) throw new ApiError(404, `The model \`${wanted.slice(0, 200)}\` does not exist`, 'invalid_request_error', 'model_not_found', 'model');
      return sendJson(res, 200, model);
    }
    throw new ApiError(404, `Invalid URL (${req.method} ${url.pathname.slice(0, 200)})`, 'invalid_request_error', 'unknown_url');
  };

  return withRequestLog(async (req, res) => {
    try {
      await route(req, res);
    } catch (err) {
      if (err instanceof ApiError) return sendError(res, err);
      console.error('firellava api:', res.getHeader('x-request-id'), err);
      if (!res.headersSent) sendError(res, new ApiError(500, 'Internal error', 'server_error', 'internal'));
      else res.destroy();
    }
  }, options.log);
}
