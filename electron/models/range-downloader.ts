// Single-stream HTTP Range downloader with a streamed sha256. We do not use node-llama-cpp's
// downloader: on a 210 MiB file its resume re-fetched 134.7 MB (limit 1% + 16 MiB = 19 MB) and an
// abort resolved as if the download had completed (numbers in docs/MODELS.md).
//
// The HTTP side is in http-range.ts, the .part/.part.json bookkeeping in part-file.ts. A resume
// re-hashes the .part prefix once and asks for the rest; the final file appears by atomic rename
// only after its size and sha256 are checked.
import { createHash } from 'node:crypto';
import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { abortError, DownloadError, serverSizeMismatch } from './download-error';
import { DEFAULT_RETRY, DEFAULT_TIMEOUT_MS, drainBody, request, requestHeaders, retryDelay, sleep, statusError, Transient, type DownloadTarget, type RetryPolicy } from './http-range';
import { clearPartState, discardPartial, partPath, rehash, resumePoint, writePartState } from './part-file';

export { DownloadError, type DownloadErrorCode } from './download-error';
export { DEFAULT_RETRY, displayUrl, probeRemote, type DownloadTarget, type RetryPolicy } from './http-range';
export { discardPartial, partialBytes, partPath } from './part-file';

/** How often progress is reported unless the caller says otherwise: the UI's refresh rate. */
export const PROGRESS_INTERVAL_MS = 250;

export interface FileProgress {
  receivedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
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

/** Downloads one file; resumes from <dest>.part when its recorded source matches. */
export async function downloadFile(target: DownloadTarget, options: DownloadOptions = {}): Promise<DownloadResult> {
  const { signal, onProgress } = options;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const interval = options.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const part = partPath(target.dest);
  await mkdir(dirname(target.dest), { recursive: true });
  if (signal?.aborted) throw abortError();

  let { state, offset } = await resumePoint(target.dest, target.url);
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
      const headers = requestHeaders(target.headers);
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
          throw serverSizeMismatch(basename(target.dest), size, target.size);
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
            await writePartState(target.dest, state);
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
        await sleep(retryDelay(retry, failuresInARow), signal);
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
    await clearPartState(target.dest);
    return { path: target.dest, size, sha256, resumedFrom, fetchedBytes: fetched, rehashedBytes, retries };
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
