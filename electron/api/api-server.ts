// The API on a port of its own: the desktop app's "local API server" toggle. `firellava serve`
// mounts the same handler under /v1 of its web server instead.
import type { Server } from 'node:http';
import os from 'node:os';
import { createEdgeServer, listen } from '../server/http-io';
import { createOpenAiApi, type ApiHandler, type OpenAiApiOptions } from './openai-api';

export interface RunningApiServer {
  server: Server;
  port: number;
  /** Base URL for OpenAI clients, ending in /v1. */
  baseUrl: string;
  /** New CORS or image-fetch options for the next requests, without closing the listener. */
  reconfigure(options: OpenAiApiOptions): void;
  close(): Promise<void>;
}

export const isLoopbackHost = (host: string): boolean => host === '127.0.0.1' || host === 'localhost' || host === '::1';

const isWildcardHost = (host: string): boolean => host === '0.0.0.0' || host === '::';

/** Host header names to accept: the bind host, and for 0.0.0.0 / :: this machine's own addresses (IP literals cannot be rebound by DNS). */
function hostNamesFor(host: string): string[] {
  if (!isWildcardHost(host)) return [host];
  return Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((a) => a.address.replace(/%.*$/, ''));
}

export async function startApiServer(host: string, port: number, options: OpenAiApiOptions): Promise<RunningApiServer> {
  const build = (o: OpenAiApiOptions): ApiHandler => createOpenAiApi({ ...o, allowedHosts: [...(o.allowedHosts ?? []), ...hostNamesFor(host)] });
  let handler = build(options);
  const server = createEdgeServer((req, res) => void handler(req, res));
  const { port: actual, origin } = await listen(server, host, port);
  return {
    server,
    port: actual,
    baseUrl: `${origin}/v1`,
    reconfigure: (next) => {
      handler = build(next);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // ends open streams, which cancels their generations
      }),
  };
}
