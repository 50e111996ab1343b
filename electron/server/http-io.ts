// Request-body reading, the socket limits and listening, shared by the /rpc transport and the OpenAI-compatible API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class BodyTooLarge extends Error {}

/** The whole body as UTF-8; rejects with BodyTooLarge as soon as it (or its declared length) passes the limit. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxBytes) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('error', reject);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Listens and returns the actual port and an origin a browser can open (wildcards mapped to loopback). */
export async function listen(server: Server, host: string, port: number): Promise<{ port: number; origin: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { port: actual, origin: `http://${shown.includes(':') ? `[${shown}]` : shown}:${actual}` };
}

/** Socket limits: a slow or hostile client cannot hold the server with half-sent requests or many sockets. */
export interface ServerLimits {
  /** Time to receive all request headers. */
  headersTimeoutMs: number;
  /** Time to receive the whole request (a 70 MB upload included); responses such as SSE streams are not cut. */
  requestTimeoutMs: number;
  /** Idle time before an unused keep-alive connection is closed. */
  keepAliveTimeoutMs: number;
  /** Open sockets at once; more are closed on accept. */
  maxConnections: number;
}
export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 5 * 60_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
};

/**
 * A node:http server with the limits above, that refuses two Host headers (400) before the handler:
 * they make the Host check ambiguous, as a proxy and we may each read a different one.
 */
export function createEdgeServer(handler: (req: IncomingMessage, res: ServerResponse) => void, limits: Partial<ServerLimits> = {}): Server {
  const lim = { ...DEFAULT_SERVER_LIMITS, ...limits };
  const server = createServer(
    {
      headersTimeout: lim.headersTimeoutMs,
      requestTimeout: lim.requestTimeoutMs,
      keepAliveTimeout: lim.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above (default 30 s); never later than the shortest.
      connectionsCheckingInterval: Math.min(1_000, lim.headersTimeoutMs),
    },
    (req, res) => {
      if ((req.headersDistinct.host?.length ?? 0) > 1) {
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'close' });
        res.end('Bad request: more than one Host header.');
        return;
      }
      handler(req, res);
    },
  );
  server.maxConnections = lim.maxConnections;
  return server;
}
