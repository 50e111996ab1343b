// The API on a port of its own: the desktop app's "local API server" toggle. `firellava serve`
// mounts the same handler under /v1 of its web server instead.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAiApi, type OpenAiApiOptions } from './openai-api';

export interface RunningApiServer {
  server: Server;
  port: number;
  /** Base URL for OpenAI clients, ending in /v1. */
  baseUrl: string;
  close(): Promise<void>;
}

export const isLoopbackHost = (host: string): boolean => host === '127.0.0.1' || host === 'localhost' || host === '::1';

export async function startApiServer(host: string, port: number, options: OpenAiApiOptions): Promise<RunningApiServer> {
  const handler = createOpenAiApi({ ...options, allowedHosts: [...(options.allowedHosts ?? []), host] });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    server,
    port: actual,
    baseUrl: `http://${shown.includes(':') ? `[${shown}]` : shown}:${actual}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // ends open streams, which cancels their generations
      }),
  };
}
