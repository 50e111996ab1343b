import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { discardPartial, downloadFile, DownloadError, partialBytes, partPath, type FileProgress } from '../../electron/models/range-downloader';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { startLoopbackServer, type LoopbackServer } from './loopback-server';

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
/** The error a download fails with; a success fails the test. */
const failure = (p: Promise<unknown>): Promise<DownloadError> =>
  p.then(
    () => {
      throw new Error('expected the download to fail');
    },
    (e: unknown) => e as DownloadError,
  );
const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

let fx: Fixtures;
let server: LoopbackServer;
let dir: string;

beforeAll(async () => {
  fx = await getFixtures();
});
beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-dl-'));
  server = await startLoopbackServer({ 'model.gguf': { path: fx.pair.model }, 'mmproj.gguf': { path: fx.pair.mmproj } });
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterAll(() => undefined);

describe('range downloader', () => {
  it('downloads a whole file, verifies its sha256 and reports progress', async () => {
    const dest = path.join(dir, 'model.gguf');
    const events: FileProgress[] = [];
    const r = await downloadFile({ url: server.url('model.gguf'), dest, sha256: sha(fx.pair.model) }, { onProgress: (p) => events.push(p), progressIntervalMs: 0 });
    expect(sha(dest)).toBe(sha(fx.pair.model));
    expect(r).toMatchObject({ size: readFileSync(fx.pair.model).length, resumedFrom: 0, retries: 0 });
    expect(existsSync(partPath(dest))).toBe(false);
    const last = events.at(-1)!;
    expect(last.receivedBytes).toBe(r.size);
    expect(last.totalBytes).toBe(r.size);
    expect(events.length).toBeGreaterThan(2);
  });

  it('reports progress at the UI rate (every 250 ms at most) when the caller names none', async () => {
    const dest = path.join(dir, 'model.gguf');
    const size = readFileSync(fx.pair.model).length;
    server.throttle = Math.ceil(size / 1.5); // about 1.5 s of download
    const at: number[] = [];
    await downloadFile({ url: server.url('model.gguf'), dest }, { onProgress: () => at.push(Date.now()) });
    server.throttle = 0;
    // The first and the last report always come; those between keep the interval.
    const gaps = at.slice(1, -1).map((t, i) => t - (at[i] as number));
    expect(gaps.length).toBeGreaterThan(1);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(249);
  });

  it('survives 20 random connection cuts: identical file, no byte fetched twice', async () => {
    const size = readFileSync(fx.pair.model).length;
    const cuts = new Set<number>();
    let seed = 7;
    while (cuts.size < 20) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      cuts.add(1 + (seed % (size - 1)));
    }
    server.files.get('model.gguf')!.cutAt = [...cuts];
    const dest = path.join(dir, 'model.gguf');
    const r = await downloadFile({ url: server.url('model.gguf'), dest, sha256: sha(fx.pair.model) }, { retry: FAST_RETRY });
    expect(sha(dest)).toBe(sha(fx.pair.model));
    expect(r.retries).toBe(20);
    expect(server.files.get('model.gguf')!.cutAt).toEqual([]);
    // Every resume asked for exactly the bytes it did not have.
    expect(server.served.get('model.gguf')).toBe(size);
    expect(r.fetchedBytes).toBe(size);
    expect(server.requests.filter((q) => q.range !== null)).toHaveLength(20);
  });

  it('pauses (abort) keeping the partial file, then resumes fetching only the rest', async () => {
    server.throttle = 256 * 1024;
    const dest = path.join(dir, 'model.gguf');
    const ac = new AbortController();
    const first = downloadFile({ url: server.url('model.gguf'), dest }, {
      signal: ac.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.receivedBytes > 150_000) ac.abort();
      },
    });
    await expect(first).rejects.toMatchObject({ code: 'ABORTED' });
    const onDisk = await partialBytes(dest);
    expect(onDisk).toBeGreaterThan(150_000);
    expect(existsSync(dest)).toBe(false);
    server.throttle = 0;
    const servedBefore = server.served.get('model.gguf') ?? 0;
    const r = await downloadFile({ url: server.url('model.gguf'), dest, sha256: sha(fx.pair.model) });
    expect(r.resumedFrom).toBe(onDisk);
    expect(r.rehashedBytes).toBe(onDisk);
    expect((server.served.get('model.gguf') ?? 0) - servedBefore).toBe(r.size - onDisk);
    expect(sha(dest)).toBe(sha(fx.pair.model));
  });

  it('retries after 500s with backoff and then succeeds', async () => {
    server.files.get('model.gguf')!.failFirst = [500, 503, 500];
    const dest = path.join(dir, 'model.gguf');
    const r = await downloadFile({ url: server.url('model.gguf'), dest }, { retry: FAST_RETRY });
    expect(r.retries).toBe(3);
    expect(sha(dest)).toBe(sha(fx.pair.model));
  });

  it('gives up after the retry budget with a clear message', async () => {
    server.files.get('model.gguf')!.alwaysStatus = 502;
    const dest = path.join(dir, 'model.gguf');
    const err = await downloadFile({ url: server.url('model.gguf'), dest }, { retry: FAST_RETRY })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('NETWORK');
    expect((err as DownloadError).message).toMatch(/model\.gguf failed after 4 tries: server answered 502/);
  });

  it('401/403 tell the user to accept the license and add a token', async () => {
    server.files.get('model.gguf')!.token = 'hf_right';
    const dest = path.join(dir, 'model.gguf');
    const licenseUrl = 'https://huggingface.co/fireworks-ai/FireLLaVA-13b';
    const noToken = await failure(downloadFile({ url: server.url('model.gguf'), dest, licenseUrl }));
    expect(noToken.code).toBe('GATED');
    expect(noToken.message).toBe(`Access denied (401) to model.gguf: accept the license at ${licenseUrl} and add a Hugging Face token`);
    const wrong = await failure(downloadFile({ url: server.url('model.gguf'), dest, licenseUrl, headers: { authorization: 'Bearer hf_wrong' } }));
    expect(wrong.message).toMatch(/^Access denied \(403\).*accept the license at https:\/\/huggingface\.co\/fireworks-ai\/FireLLaVA-13b/);
    const r = await downloadFile({ url: server.url('model.gguf'), dest, headers: { authorization: 'Bearer hf_right' } });
    expect(r.size).toBeGreaterThan(0);
  });

  it('404 names the missing file', async () => {
    const err = await failure(downloadFile({ url: server.url('nope/mmproj-q4.gguf'), dest: path.join(dir, 'x.gguf') }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('mmproj-q4.gguf');
  });

  it('a checksum mismatch deletes the file and says so', async () => {
    server.files.get('model.gguf')!.corruptAt = 1234;
    const dest = path.join(dir, 'model.gguf');
    const err = await failure(downloadFile({ url: server.url('model.gguf'), dest, sha256: sha(fx.pair.model) }));
    expect(err.code).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toMatch(/expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}\. The downloaded file was deleted\./);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(partPath(dest))).toBe(false);
  });

  it('a server size different from the catalog size is refused', async () => {
    const err = await failure(downloadFile({ url: server.url('model.gguf'), dest: path.join(dir, 'm.gguf'), size: 1000 }));
    expect(err.code).toBe('SIZE_MISMATCH');
    expect(err.message).toMatch(/is 544512 bytes on the server, expected 1000/);
  });

  it('discardPartial removes everything a cancelled download left', async () => {
    server.throttle = 128 * 1024;
    const dest = path.join(dir, 'model.gguf');
    const ac = new AbortController();
    const stopOnBytes = { signal: ac.signal, progressIntervalMs: 0, onProgress: (p: FileProgress) => p.receivedBytes > 0 && ac.abort() };
    await expect(downloadFile({ url: server.url('model.gguf'), dest }, stopOnBytes)).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await partialBytes(dest)).toBeGreaterThan(0);
    await discardPartial(dest);
    expect(await partialBytes(dest)).toBe(0);
    expect(existsSync(`${dest}.part.json`)).toBe(false);
  });

  it('starts over when the file on the server changed (If-Range)', async () => {
    server.throttle = 256 * 1024;
    const dest = path.join(dir, 'f.gguf');
    const ac = new AbortController();
    const p = downloadFile({ url: server.url('model.gguf'), dest }, { signal: ac.signal, progressIntervalMs: 0, onProgress: (x) => x.receivedBytes > 100_000 && ac.abort() });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    server.throttle = 0;
    // Same URL, different content (and so a different ETag): the partial bytes must not be kept.
    server.files.get('model.gguf')!.path = fx.pairF16.model;
    const r = await downloadFile({ url: server.url('model.gguf'), dest, sha256: sha(fx.pairF16.model) });
    expect(sha(dest)).toBe(sha(fx.pairF16.model));
    expect(r.size).toBe(readFileSync(fx.pairF16.model).length);
  });
});
