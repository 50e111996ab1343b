// The HTTP transport of the headless server: POST /rpc/<name> for calls (JSON) and streams
// (Server-Sent Events), plus the static renderer. Everything behind the key and the Host check.
import { createReadStream } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Dispatcher, RequestContext } from '../shared/dispatcher';
import { httpStatusOf as statusOf, type ErrorCode, type Result } from '../shared/errors';
import { decodeWire, encodeWire } from '../shared/wire';
import { allowedHostSet, isAllowedHost, keysEqual, presentedKey, sessionCookie } from './auth';
import { BodyTooLarge, createEdgeServer, listen, readBody, type ServerLimits } from './http-io';
import { CONTENT_SECURITY_POLICY, serveStatic } from './static-files';

import { MAX_IMAGE_BYTES, megabytes, RPC_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES } from '../shared/limits';

export { DEFAULT_MAX_BODY_BYTES };



export interface HttpHandlerOptions {
  dispatcher: Dispatcher<RequestContext>;
  apiKey: string;
  /** Built renderer (dist/renderer); null serves only the API. */
  staticDir: string | null;
  /** Hostnames accepted in the Host header besides the loopback names. */
  allowedHosts?: readonly string[];
  maxBodyBytes?: number;
  /** SSE comment interval; keeps proxies from timing out and notices dead clients. */
  heartbeatMs?: number;
  /** Attachment images for the UI at /attachments/<id>[/thumb]; only ids, never paths, reach it. */
  attachmentFile?: (id: string, variant: 'full' | 'thumb') => Promise<{ path: string; mimeType: string } | null>;
  /** Handles everything under /v1 (the OpenAI-compatible API), which does its own Host, key and CORS checks. */
  api?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
} as const;


export function createHttpHandler(options: HttpHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { dispatcher, apiKey, staticDir } = options;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const allowed = allowedHostSet(options.allowedHosts);
  const ctx: RequestContext = { transport: 'http' };

  const sendJson = (res: ServerResponse, status: number, body: Result<unknown>, extra: Record<string, string> = {}): void => {
    const text = encodeWire(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...extra });
    res.end(text);
  };
  const sendError = (res: ServerResponse, status: number, code: ErrorCode, message: string, extra?: Record<string, string>): void =>
    sendJson(res, status, { ok: false, error: { code, message } }, extra);
  const sendText = (res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra });
    res.end(text);
  };

  const refuseTooLarge = (req: IncomingMessage, res: ServerResponse): void => {
    sendError(
      res,
      413,
      'IMAGE_TOO_LARGE',
      `The request is larger than the ${megabytes(maxBody)} limit (images may be up to ${megabytes(MAX_IMAGE_BYTES)}).`,
      { Connection: 'close' },
    );
    // Let a modest upload finish so the client reads the 413 instead of a reset; cut off a huge one.
    let drained = 0;
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > maxBody) req.destroy();
    });
    req.resume();
  };

  const retryHeaders = (result: Result<unknown>): Record<string, string> =>
    !result.ok && result.error.retryAfterSeconds !== undefined ? { 'Retry-After': String(result.error.retryAfterSeconds) } : {};

  const handleRpc = async (req: IncomingMessage, res: ServerResponse, name: string): Promise<void> => {
    if (req.method !== 'POST') return sendError(res, 405, 'INVALID_INPUT', 'Use POST for /rpc', { Allow: 'POST' });
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // A JSON content type cannot be sent cross-site without a CORS preflight, which we never grant.
    if (type !== 'application/json') return sendError(res, 415, 'INVALID_INPUT', 'Content-Type must be application/json');
    const kind = dispatcher.kindOf(name);
    if (!kind) return sendError(res, 404, 'NOT_FOUND', `Unknown call "${name.slice(0, 100)}"`);

    let input: unknown;
    try {
      const text = await readBody(req, maxBody);
      input = text.trim() === '' ? {} : decodeWire(text);
    } catch (err) {
      if (err instanceof BodyTooLarge) return refuseTooLarge(req, res);
      return sendError(res, 400, 'INVALID_INPUT', `The request body is not valid JSON: ${(err as Error).message}`);
    }

    if (kind === 'call') {
      const result = await dispatcher.call(name, input, ctx);
      return sendJson(res, result.ok ? 200 : statusOf(result.error), result, retryHeaders(result));
    }

    const controller = new AbortController();
    let heartbeat: NodeJS.Timeout | undefined;
    res.on('close', () => {
      // The client went away (or we finished): stop the work at once.
      if (!res.writableFinished) controller.abort();
      clearInterval(heartbeat);
    });
    // The SSE head goes out with the first event: a handler that refuses before emitting anything
    // (bad input, a full queue) answers with its own status, like a call.
    const open = (): void => {
      if (res.headersSent) return;
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
      res.flushHeaders();
    };
    const result = await dispatcher.stream(name, input, {
      signal: controller.signal,
      ctx,
      onAccepted: () => {
        heartbeat = setInterval(() => {
          open();
          res.write(': keep-alive\n\n');
        }, heartbeatMs);
        heartbeat.unref();
      },
      emit: (event) => {
        open();
        res.write(`event: event\ndata: ${encodeWire(event)}\n\n`);
      },
    });
    clearInterval(heartbeat);
    if (res.destroyed || res.writableEnded) return;
    if (!result.ok && !res.headersSent) return sendJson(res, statusOf(result.error), result, retryHeaders(result));
    open();
    res.end(`event: end\ndata: ${encodeWire(result)}\n\n`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const apiPath = (req.url ?? '/').split('?')[0]!;
    if (options.api && (apiPath === '/v1' || apiPath.startsWith('/v1/'))) return options.api(req, res);
    for (const [k, v] of Object.entries(BASE_HEADERS)) res.setHeader(k, v);

    if (!isAllowedHost(req.headers.host, allowed)) {
      return sendText(res, 403, 'Forbidden: unexpected Host header. Open the server through 127.0.0.1 or localhost.');
    }
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const port = req.socket.localPort ?? 0;
    const isRpc = url.pathname.startsWith('/rpc/');

    // Browsers send Origin on POST; a different one means another site is trying (CSRF).
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      return isRpc ? sendError(res, 403, 'FORBIDDEN', 'Cross-origin requests are not allowed') : sendText(res, 403, 'Forbidden: cross-origin request');
    }

    // Opening the printed URL trades the key for a cookie and drops it from the address bar.
    const urlKey = url.searchParams.get('key');
    if (!isRpc && urlKey !== null && (req.method === 'GET' || req.method === 'HEAD')) {
      if (!keysEqual(urlKey, apiKey)) return sendText(res, 401, 'Unauthorized: wrong key. Open the exact URL that "firellava serve" printed.');
      url.searchParams.delete('key');
      res.writeHead(303, { Location: localRedirect(url), 'Set-Cookie': sessionCookie(port, apiKey), 'Cache-Control': 'no-store' });
      res.end();
      return;
    }

    const key = presentedKey(req);
    if (key === null || !keysEqual(key, apiKey)) {
      const message = key === null ? 'This server needs its key' : 'Wrong key';
      return isRpc
        ? sendError(res, 401, 'FORBIDDEN', `${message}: send "Authorization: Bearer <key>" or open the URL printed by "firellava serve".`, { 'WWW-Authenticate': 'Bearer' })
        : sendText(res, 401, `Unauthorized. ${message}: open the exact URL that "firellava serve" printed (it ends in ?key=...).`);
    }

    if (isRpc) {
      let name: string;
      try {
        name = decodeURIComponent(url.pathname.slice('/rpc/'.length));
      } catch {
        return sendError(res, 404, 'NOT_FOUND', 'Malformed call name');
      }
      return handleRpc(req, res, name);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed', { Allow: 'GET, HEAD' });
    const image = /^\/attachments\/([a-f0-9]{64})(\/thumb)?$/.exec(url.pathname);
    if (image && options.attachmentFile) return serveAttachment(req, res, await options.attachmentFile(image[1]!, image[2] ? 'thumb' : 'full'));
    if (!staticDir) return sendText(res, 404, 'Not found');
    return serveStatic(req, res, staticDir, url.pathname);
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('firellava http:', err);
      if (!res.headersSent) sendText(res, 500, 'Internal error');
      else res.destroy();
    });
  };
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Base URL with a host a browser can open (IPv6 in brackets, wildcard mapped to loopback). */
  origin: string;
  close(): Promise<void>;
}

export async function startHttpServer(
  host: string,
  port: number,
  options: HttpHandlerOptions,
  limits: Partial<ServerLimits> = {},
): Promise<RunningServer> {
  const allowedHosts = [...(options.allowedHosts ?? []), host];
  const server = createEdgeServer(createHttpHandler({ ...options, allowedHosts }), limits);
  const { port: actual, origin } = await listen(server, host, port);
  return {
    server,
    port: actual,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // ends open SSE streams, which aborts their handlers
      }),
  };
}

/**
 * A same-origin path for Location: `/%2e//evil.example/` normalises to `//evil.example/`, which a
 * browser reads as another host, so runs of slashes (and backslashes) collapse to one.
 */
export function localRedirect(url: URL): string {
  return `/${url.pathname.replace(/^[/\\]+/, '').replace(/[/\\]{2,}/g, '/')}${url.search}`;
}

/** Content-addressed, so a URL's bytes never change: cache for good. */
function serveAttachment(req: IncomingMessage, res: ServerResponse, file: { path: string; mimeType: string } | null): void {
  if (!file) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found');
    return;
  }
  const stream = createReadStream(file.path);
  stream.once('error', () => {
    if (!res.headersSent) res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found');
    else res.destroy();
  });
  stream.once('open', () => {
    res.writeHead(200, { 'Content-Type': file.mimeType, 'Cache-Control': 'private, max-age=31536000, immutable' });
    if (req.method === 'HEAD') {
      stream.destroy();
      res.end();
    } else stream.pipe(res);
  });
}
