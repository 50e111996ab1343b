// The API on a port of its own: the desktop app's "local API server" toggle. `firellava serve`
// mounts the same handler under /v1 of its web server instead.
import { createServer, type Server } from 'node:http';
import { listen } from '../server/http-io';
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
  const { port: actual, origin } = await listen(server, host, port);
  return {
    server,
    port: actual,
    baseUrl: `${origin}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // ends open streams, which cancels their generations
      }),
  };
}
