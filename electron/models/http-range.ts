// HTTP for the downloader: one GET with redirects (credentials stay on their origin), status codes
// read as download errors, a body drained without losing bytes when the connection breaks, the
// retry policy, and the one-byte probe that learns a file's size before anything is written.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { basename } from 'node:path';
import { abortError, DownloadError } from './download-error';

export interface DownloadTarget {
  url: string;
  /** Final path; written only once verified. */
  dest: string;
  /** Expected size in bytes when known (catalog); a different size from the server is an error. */
  size?: number | null;
  /** Expected lowercase hex sha256 when known. */
  sha256?: string | null;
  /** Extra request headers (Authorization for Hugging Face); dropped on cross-origin redirects. */
  headers?: Record<string, string>;
  /** Where to accept the license when the server says 401/403 (a Hugging Face repo page). */
  licenseUrl?: string | null;
}

export interface RetryPolicy {
  /** Failed attempts in a row (without any new byte) before giving up. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 15_000 };

/** Idle socket timeout unless the caller gives one. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Exponential backoff for the n-th failure in a row (1-based). */
export function retryDelay(retry: RetryPolicy, failure: number): number {
  return Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (failure - 1));
}

export const USER_AGENT = 'firellava-desktop';

/** Headers every download request carries; the caller's (Authorization, Range) go on top. */
export function requestHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'accept-encoding': 'identity', 'user-agent': USER_AGENT, ...extra };
}

/** Hides query strings (signed CDN URLs) in messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retryable: the connection broke or the server had a transient failure. */
export class Transient extends Error {}

export function request(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, timeoutMs: number, redirects = 0): Promise<{ res: IncomingMessage; url: string }> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return reject(new DownloadError('HTTP', `Not a valid URL: ${url}`));
    }
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!lib) return reject(new DownloadError('HTTP', `Only http and https URLs can be downloaded, got ${u.protocol}`));
    const req = lib.request(u, { method: 'GET', headers, ...(signal ? { signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        res.resume();
        if (redirects >= 8) return reject(new DownloadError('HTTP', `Too many redirects from ${displayUrl(url)}`));
        const next = new URL(location, u);
        // Credentials go only to the origin they were meant for (Hugging Face redirects to a CDN).
        const nextHeaders = next.origin === u.origin ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
        request(next.toString(), nextHeaders, signal, timeoutMs, redirects + 1).then(resolve, reject);
        return;
      }
      resolve({ res, url });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Transient(`no data for ${timeoutMs / 1000} s`)));
    req.on('error', (err) => {
      if (signal?.aborted) reject(abortError());
      else reject(err instanceof DownloadError ? err : new Transient(err.message));
    });
    req.end();
  });
}

export function statusError(status: number, target: Pick<DownloadTarget, 'url' | 'licenseUrl'>): Error {
  const name = basename(new URL(target.url).pathname) || displayUrl(target.url);
  if (status === 401 || status === 403) {
    const where = target.licenseUrl ?? displayUrl(target.url);
    return new DownloadError('GATED', `Access denied (${status}) to ${name}: accept the license at ${where} and add a Hugging Face token`, status);
  }
  if (status === 404 || status === 410) return new DownloadError('NOT_FOUND', `File not found (${status}): ${name} at ${displayUrl(target.url)}`, status);
  if (status === 429 || status >= 500) return new Transient(`server answered ${status} for ${name}`);
  return new DownloadError('HTTP', `Server answered ${status} for ${name} at ${displayUrl(target.url)}`, status);
}

const HIGH_WATER = 8 * 1024 * 1024;

export type BodyFailure = { writeError: Error; netError?: undefined } | { writeError?: undefined; netError: Error };

/**
 * Writes a response body through `write` in arrival order. Data is taken as it arrives (flowing
 * mode) so that bytes already received are never lost when the connection breaks: for-await
 * would drop its read buffer on the error. Resolves with what failed, or null at the end.
 */
export function drainBody(res: IncomingMessage, write: (buf: Buffer) => Promise<void>): Promise<BodyFailure | null> {
  return new Promise((resolve) => {
    const queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let closed = false;
    let netError: Error | null = null;
    let writeError: Error | null = null;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(writeError ? { writeError } : netError ? { netError } : null);
    };
    const pump = async (): Promise<void> => {
      if (writing) return;
      writing = true;
      try {
        while (queue.length > 0 && !writeError) {
          const parts = queue.splice(0);
          const buf = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
          queued -= buf.length;
          await write(buf);
          if (queued < HIGH_WATER / 2 && res.isPaused() && !closed) res.resume();
        }
      } catch (err) {
        writeError = err as Error;
        res.destroy();
      }
      writing = false;
      if (closed || writeError) finish();
    };
    res.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued > HIGH_WATER) res.pause();
      void pump();
    });
    res.on('error', (err) => {
      netError ??= err;
    });
    res.on('close', () => {
      closed = true;
      if (!res.complete) netError ??= new Error('connection closed early');
      if (!writing && queue.length === 0) finish();
      else void pump();
    });
  });
}

/**
 * Asks for the first byte to learn the size and surface 401/403/404 before anything is written.
 * Returns null for the size when the server does not say.
 */
export async function probeRemote(target: Omit<DownloadTarget, 'dest'>, options: { signal?: AbortSignal | undefined; retry?: Partial<RetryPolicy> | undefined; timeoutMs?: number } = {}): Promise<{ size: number | null }> {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  for (let attempt = 1; ; attempt++) {
    try {
      const { res } = await request(target.url, requestHeaders({ ...target.headers, range: 'bytes=0-0' }), options.signal, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      res.destroy();
      const status = res.statusCode ?? 0;
      if (status === 206) {
        const m = /\/(\d+)$/.exec(res.headers['content-range'] ?? '');
        return { size: m ? Number(m[1]) : null };
      }
      if (status === 200) return { size: res.headers['content-length'] ? Number(res.headers['content-length']) : null };
      throw statusError(status, target);
    } catch (err) {
      if (options.signal?.aborted) throw abortError();
      if (!(err instanceof Transient)) throw err;
      if (attempt > retry.attempts) throw new DownloadError('NETWORK', `Cannot reach ${displayUrl(target.url)}: ${err.message}`);
      await sleep(retryDelay(retry, attempt), options.signal);
    }
  }
}
