// Every /v1 request gets an x-request-id (the official clients expose it as `_request_id`) and,
// when a log is given, one line once it ends: id, method, route, status, milliseconds. The
// query string is left out: it may carry a key.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type RequestLog = (line: string) => void;

export const newRequestId = (): string => `req-${randomBytes(12).toString('hex')}`;

export function withRequestLog(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  log: RequestLog | undefined,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return (req, res) => {
    const id = newRequestId();
    res.setHeader('x-request-id', id);
    if (log) {
      const began = performance.now();
      const route = (req.url ?? '/').split('?')[0]!.slice(0, 200);
      // 'close' also ends streams the client left; writableFinished tells the two apart.
      res.once('close', () => {
        const ms = Math.round(performance.now() - began);
        log(`api ${id} ${req.method ?? '-'} ${route} ${res.statusCode}${res.writableFinished ? '' : ' (client left)'} ${ms}ms`);
      });
    }
    return handler(req, res);
  };
}
