// The OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions, /v1/completions,
// /v1/responses) over the app's one Engine: same queue, same attachment store, same prompt format
// and single-image policy as the chat UI. Mounted under /v1 of `firellava serve`, or on its own port.
// This file is the HTTP edge: Host, CORS and key checks, body reading, dispatch. Requests are
// translated in openai-request.ts, answers written in openai-response.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import { generationLimitOf } from '../engine/generation-limit';
import { allowedHostSet, isAllowedHost, keysEqual } from '../server/auth';
import { BodyTooLarge, readBody } from '../server/http-io';
import { API_MAX_BODY_BYTES, megabytes } from '../shared/limits';
import { toAppError } from '../shared/errors';
import { ApiError, badRequest } from './api-errors';
import { chatCompletionRequest, completionRequest, parseBody, refuseUnsupported } from './api-schemas';
import type { StoredImage } from './image-input';
import { chatTurns, completionPrompt, paramsOf, storeImages } from './openai-request';
import { newId, nowSeconds, sendError, sendJson, writeCompletion, type CompletionShape } from './openai-response';
import { toEngineFormat } from './response-format';
import { withRequestLog, type RequestLog } from './request-log';
import { createResponsesHandler } from './responses-api';
import { findModel, listModels, requireModel } from './served-model';

export const API_PREFIX = '/v1';
export { API_MAX_BODY_BYTES };
export { DEFAULT_MAX_TOKENS } from './openai-request';
export { MODEL_ALIASES, modelIdOf } from './served-model';

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

export function createOpenAiApi(options: OpenAiApiOptions): ApiHandler {
  const { engine, attachments } = options;
  const keyOf = typeof options.apiKey === 'function' ? options.apiKey : () => options.apiKey as string;
  const allowedHosts = allowedHostSet(options.allowedHosts);
  const corsOrigins = new Set((options.corsOrigins ?? []).map((o) => o.replace(/\/+$/, '').toLowerCase()));
  const maxBody = options.maxBodyBytes ?? API_MAX_BODY_BYTES;
  const limit = generationLimitOf(engine);
  const maxPending = options.maxPending ?? limit.max;
  const imageOptions = { attachments, fetchImages: options.fetchImages ?? false, seen: new Map<string, StoredImage>() };
  const onDuration = (ms: number): void => limit.recordDuration(ms);

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

  // --- generation endpoints -----------------------------------------------------------------------

  const shapeOf = (kind: CompletionShape['kind'], body: { model: string; stream?: boolean | null; stream_options?: { include_usage?: boolean | null } | null }): CompletionShape => ({
    id: newId(kind === 'chat' ? 'chatcmpl' : 'cmpl'),
    created: nowSeconds(),
    model: body.model,
    kind,
    stream: body.stream === true,
    includeUsage: body.stream === true && body.stream_options?.include_usage === true,
  });

  const chatCompletions = async (req: IncomingMessage, res: ServerResponse, raw: unknown): Promise<void> => {
    const body = parseBody(chatCompletionRequest, raw);
    refuseUnsupported(body);
    const responseFormat = toEngineFormat(body.response_format);
    requireModel(engine, body.model);
    const release = checkQueue();
    const { system, turns } = await chatTurns(body.messages, imageOptions).finally(release);
    const s = shapeOf('chat', body);
    const params = paramsOf(body, body.max_completion_tokens ?? body.max_tokens);
    await writeCompletion(req, res, s, { engine, request: { conversationId: s.id, cacheBy: 'prefix', system, turns, params, responseFormat }, onDuration });
  };

  const completions = async (req: IncomingMessage, res: ServerResponse, raw: unknown): Promise<void> => {
    const body = parseBody(completionRequest, raw);
    refuseUnsupported(body);
    const responseFormat = toEngineFormat(body.response_format);
    const { prompt, imageUrls } = completionPrompt(body);
    requireModel(engine, body.model);
    const release = checkQueue();
    const images = await storeImages(imageUrls, imageOptions).finally(release);
    const s = shapeOf('completion', body);
    const params = paramsOf(body, body.max_tokens);
    await writeCompletion(req, res, s, { engine, request: { conversationId: s.id, cacheBy: 'none', system: '', turns: [{ role: 'user', text: '', images }], rawPrompt: prompt, params, responseFormat }, onDuration });
  };

  const responses = createResponsesHandler({
    engine,
    requireModel: (model) => requireModel(engine, model),
    checkQueue,
    chatTurns: (messages) => chatTurns(messages, imageOptions),
    onDuration,
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
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
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
      if (route === `${API_PREFIX}/models`) return sendJson(res, 200, listModels(engine));
      return sendJson(res, 200, findModel(engine, decodeURIComponent(route.slice(`${API_PREFIX}/models/`.length))));
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
