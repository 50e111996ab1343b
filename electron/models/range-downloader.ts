// Single-stream HTTP Range downloader with a streamed sha256. We do not use node-llama-cpp's
// downloader: on a 210 MiB file its resume re-fetched 134.7 MB (limit 1% + 16 MiB = 19 MB) and an
// abort resolved as if the download had completed (numbers in docs/MODELS.md).
//
// On disk while downloading: <dest>.part (bytes so far) and <dest>.part.json (what they belong
// to). A resume re-hashes the .part prefix once and asks for the rest; the final file appears by
// atomic rename only after its size and sha256 are checked.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { basename, dirname } from 'node:path';

export type DownloadErrorCode = 'GATED' | 'NOT_FOUND' | 'HTTP' | 'NETWORK' | 'SIZE_MISMATCH' | 'CHECKSUM_MISMATCH' | 'ABORTED';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

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

export interface FileProgress {
  receivedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface RetryPolicy {
  /** Failed attempts in a row (without any new byte) before giving up. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (p: FileProgress) => void;
  retry?: Partial<RetryPolicy>;
  /** Minimum time between progress callbacks (the last one always comes). */
  progressIntervalMs?: number;
  /** Idle socket timeout. */
  timeoutMs?: number;
  /** Flush to disk before the rename (default true: a power cut must not leave a "complete" file of zeros). */
  fsync?: boolean;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Bytes on disk from an earlier run when this one started. */
  resumedFrom: number;
  /** Body bytes received over the network by this call, retries included. */
  fetchedBytes: number;
  /** Prefix bytes read back from disk to restore the hash state. */
  rehashedBytes: number;
  retries: number;
}

interface PartState {
  url: string;
  totalBytes: number | null;
  etag: string | null;
  lastModified: string | null;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 15_000 };

export const partPath = (dest: string): string => `${dest}.part`;
const statePath = (dest: string): string => `${dest}.part.json`;

/** Bytes of an unfinished download on disk (0 when none). */
export async function partialBytes(dest: string): Promise<number> {
  try {
    return (await stat(partPath(dest))).size;
  } catch {
    return 0;
  }
}

/** Removes an unfinished download (cancel). */
export async function discardPartial(dest: string): Promise<void> {
  await Promise.all([rm(partPath(dest), { force: true }), rm(statePath(dest), { force: true })]);
}

async function readState(dest: string): Promise<PartState | null> {
  try {
    const s = JSON.parse(await readFile(statePath(dest), 'utf8')) as PartState;
    return typeof s.url === 'string' ? s : null;
  } catch {
    return null;
  }
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

function abortError(): DownloadError {
  return new DownloadError('ABORTED', 'Download stopped');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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
class Transient extends Error {}

interface Response {
  res: IncomingMessage;
  url: string;
}

function request(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, timeoutMs: number, redirects = 0): Promise<Response> {
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

function statusError(status: number, target: DownloadTarget): Error {
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

/**
 * Writes a response body through `write` in arrival order. Data is taken as it arrives (flowing
 * mode) so that bytes already received are never lost when the connection breaks: for-await
 * would drop its read buffer on the error. Resolves with what failed, or null at the end.
 */
type BodyFailure = { writeError: Error; netError?: undefined } | { writeError?: undefined; netError: Error };

function drainBody(res: IncomingMessage, write: (buf: Buffer) => Promise<void>): Promise<BodyFailure | null> {
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

/** Reads the existing prefix once so the hash can continue where the bytes stop. */
async function rehash(file: string, bytes: number, hash: Hash, signal?: AbortSignal): Promise<void> {
  if (bytes === 0) return;
  const stream = createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1024 * 1024 });
  for await (const chunk of stream) {
    if (signal?.aborted) {
      stream.destroy();
      throw abortError();
    }
    hash.update(chunk as Buffer);
  }
}

/** Downloads one file; resumes from <dest>.part when its recorded source matches. */
export async function downloadFile(target: DownloadTarget, options: DownloadOptions = {}): Promise<DownloadResult> {
  const { signal, onProgress } = options;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const interval = options.progressIntervalMs ?? 200;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const part = partPath(target.dest);
  await mkdir(dirname(target.dest), { recursive: true });
  if (signal?.aborted) throw abortError();

  let state = await readState(target.dest);
  let offset = state && state.url === target.url ? await partialBytes(target.dest) : 0;
  if (offset === 0 || !state || state.url !== target.url) {
    await discardPartial(target.dest);
    state = null;
    offset = 0;
  }
  if (state?.totalBytes != null && offset > state.totalBytes) {
    await discardPartial(target.dest);
    state = null;
    offset = 0;
  }
  const resumedFrom = offset;
  let hash = createHash('sha256');
  await rehash(part, offset, hash, signal);
  const rehashedBytes = offset;

  let total: number | null = state?.totalBytes ?? target.size ?? null;
  let fetched = 0;
  let retries = 0;
  let failuresInARow = 0;
  let fh: FileHandle | null = null;

  // Speed over a sliding window of recent samples.
  const samples: { t: number; bytes: number }[] = [{ t: Date.now(), bytes: offset }];
  let lastEmit = 0;
  const emit = (force: boolean): void => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - lastEmit < interval) return;
    lastEmit = now;
    samples.push({ t: now, bytes: offset });
    while (samples.length > 2 && now - (samples[0] as { t: number }).t > 5000) samples.shift();
    const first = samples[0] as { t: number; bytes: number };
    const dt = (now - first.t) / 1000;
    const speed = dt > 0 ? (offset - first.bytes) / dt : 0;
    onProgress({
      receivedBytes: offset,
      totalBytes: total,
      bytesPerSecond: speed,
      etaSeconds: total !== null && speed > 0 ? (total - offset) / speed : null,
    });
  };

  const reset = async (): Promise<void> => {
    await fh?.truncate(0);
    offset = 0;
    hash = createHash('sha256');
  };

  try {
    fh = await open(part, offset > 0 ? 'r+' : 'w');
    emit(true);
    for (;;) {
      if (signal?.aborted) throw abortError();
      if (total !== null && offset === total) break;
      const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'firellava-desktop', ...target.headers };
      if (offset > 0) {
        headers.range = `bytes=${offset}-`;
        // The server sends the whole file (200) instead of the rest if it changed since.
        const validator = state?.etag && !state.etag.startsWith('W/') ? state.etag : state?.lastModified;
        if (validator) headers['if-range'] = validator;
      }
      const before = offset;
      try {
        const { res } = await request(target.url, headers, signal, timeoutMs);
        const status = res.statusCode ?? 0;
        if (status === 416 && total !== null && offset === total) {
          res.resume();
          break;
        }
        if (status !== 200 && status !== 206) {
          res.resume();
          throw statusError(status, target);
        }
        let start = 0;
        let length: number | null = res.headers['content-length'] ? Number(res.headers['content-length']) : null;
        let size: number | null = null;
        if (status === 206) {
          const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
          if (!m) {
            res.resume();
            throw new Transient('partial answer without a valid Content-Range');
          }
          start = Number(m[1]);
          length = Number(m[2]) - start + 1;
          size = m[3] === '*' ? null : Number(m[3]);
        } else {
          size = length;
        }
        if (start !== offset && start !== 0) {
          // Neither where we are nor the whole file: drop the partial bytes and ask again.
          res.resume();
          await reset();
          continue;
        }
        if (size !== null && target.size != null && size !== target.size) {
          res.resume();
          throw new DownloadError('SIZE_MISMATCH', `${basename(target.dest)} is ${size} bytes on the server, expected ${target.size}`);
        }
        const etag = typeof res.headers.etag === 'string' ? res.headers.etag : null;
        const lastModified = typeof res.headers['last-modified'] === 'string' ? res.headers['last-modified'] : null;
        const restart = start !== offset; // a 200 (no Range support, or the file changed): start over
        if (size !== null) total = size;
        const stateChanged = !state || state.totalBytes !== total || state.etag !== etag || state.lastModified !== lastModified;
        // Listeners go on the body before any other I/O: a short body can end, and be discarded, meanwhile.
        let prepared: Promise<void> | null = null;
        const prepare = async (): Promise<void> => {
          if (restart) await reset();
          if (stateChanged) {
            state = { url: target.url, totalBytes: total, etag, lastModified };
            await writeFile(statePath(target.dest), JSON.stringify(state));
          }
        };
        const cut = await drainBody(res, async (buf) => {
          await (prepared ??= prepare());
          hash.update(buf);
          await (fh as FileHandle).write(buf, 0, buf.length, offset);
          offset += buf.length;
          fetched += buf.length;
          emit(false);
        });
        await (prepared ??= prepare());
        if (signal?.aborted) throw abortError();
        if (cut?.writeError) throw cut.writeError;
        if (cut) throw new Transient(`connection lost at byte ${offset}: ${cut.netError.message}`);
        if (length !== null && offset < start + length) throw new Transient(`connection closed at byte ${offset} of ${start + length}`);
        if (total === null) total = offset; // no length given: the end of the body is the end of the file
      } catch (err) {
        if (signal?.aborted) throw abortError();
        if (!(err instanceof Transient)) throw err;
        if (offset > before) failuresInARow = 0;
        failuresInARow++;
        retries++;
        if (failuresInARow > retry.attempts) {
          throw new DownloadError('NETWORK', `Download of ${basename(target.dest)} failed after ${retries} tries: ${err.message}`);
        }
        emit(true);
        await sleep(Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (failuresInARow - 1)), signal);
      }
    }
    emit(true);
    if (options.fsync !== false) await fh.sync();
    await fh.close();
    fh = null;

    const size = (await stat(part)).size;
    if (total !== null && size !== total) {
      await discardPartial(target.dest);
      throw new DownloadError('SIZE_MISMATCH', `${basename(target.dest)} has ${size} bytes after download, expected ${total}; the partial file was deleted`);
    }
    const sha256 = hash.digest('hex');
    if (target.sha256 && sha256 !== target.sha256.toLowerCase()) {
      await discardPartial(target.dest);
      throw new DownloadError(
        'CHECKSUM_MISMATCH',
        `Checksum mismatch for ${basename(target.dest)}: expected sha256 ${target.sha256.toLowerCase()}, got ${sha256}. The downloaded file was deleted.`,
      );
    }
    await rename(part, target.dest);
    await rm(statePath(target.dest), { force: true });
    return { path: target.dest, size, sha256, resumedFrom, fetchedBytes: fetched, rehashedBytes, retries };
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Asks for the first byte to learn the size and surface 401/403/404 before anything is written.
 * Returns null for the size when the server does not say.
 */
export async function probeRemote(target: Omit<DownloadTarget, 'dest'>, options: Pick<DownloadOptions, 'signal' | 'retry' | 'timeoutMs'> = {}): Promise<{ size: number | null }> {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const full = { ...target, dest: '' };
  for (let attempt = 1; ; attempt++) {
    try {
      const { res } = await request(target.url, { 'accept-encoding': 'identity', 'user-agent': 'firellava-desktop', ...target.headers, range: 'bytes=0-0' }, options.signal, options.timeoutMs ?? 60_000);
      res.destroy();
      const status = res.statusCode ?? 0;
      if (status === 206) {
        const m = /\/(\d+)$/.exec(res.headers['content-range'] ?? '');
        return { size: m ? Number(m[1]) : null };
      }
      if (status === 200) return { size: res.headers['content-length'] ? Number(res.headers['content-length']) : null };
      throw statusError(status, full);
    } catch (err) {
      if (options.signal?.aborted) throw abortError();
      if (!(err instanceof Transient)) throw err;
      if (attempt > retry.attempts) throw new DownloadError('NETWORK', `Cannot reach ${displayUrl(target.url)}: ${err.message}`);
      await sleep(Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1)), options.signal);
    }
  }
}
