// Download benchmark: our Range downloader (streamed sha256, positional writes) against a plain
// single-stream Node fetch of the same file from the same loopback server in the same run, and
// the bytes re-fetched by a resume after an abort half way.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { downloadFile, partialBytes } from '../electron/models/range-downloader';
import { startLoopbackServer } from '../tests/models/loopback-server';

const MiB = 1024 * 1024;

export interface DownloadBenchOptions {
  /** Scratch folder (the test file and the downloads go here; removed at the end). */
  dir: string;
  /** Size of the generated file; at least 200 MiB for a meaningful resume figure. */
  sizeBytes?: number;
  /** Timed runs of each method, alternating. */
  runs?: number;
  /** Also measure node-llama-cpp's downloader resume (its JS only; default true). */
  nodeLlamaCpp?: boolean;
}

/**
 * node-llama-cpp's createModelDownloader: abort past half, then a new downloader on the same
 * folder. Returns what the abort did and how many bytes the resume fetched again.
 */
async function nodeLlamaCppResume(url: string, dir: string, size: number, served: () => number, keepTemp: boolean): Promise<string> {
  const { createModelDownloader } = await import('node-llama-cpp');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const ac = new AbortController();
  let atAbort = 0;
  let reported = 0;
  const first = await createModelDownloader({
    modelUri: url,
    dirPath: dir,
    fileName: 'file.gguf',
    showCliProgress: false,
    deleteTempFileOnCancel: !keepTemp,
    onProgress: ({ downloadedSize }) => {
      reported = downloadedSize;
      if (downloadedSize >= size / 2 && !ac.signal.aborted) {
        atAbort = downloadedSize;
        ac.abort();
      }
    },
  });
  let abort: string;
  try {
    abort = `resolved with ${path.basename(await first.download({ signal: ac.signal }))}`;
  } catch (err) {
    abort = `threw ${(err as Error).message}`;
  }
  const before = served();
  const second = await createModelDownloader({ modelUri: url, dirPath: dir, fileName: 'file.gguf', showCliProgress: false });
  const file = await second.download();
  const sent = served() - before;
  const complete = (await stat(file)).size === size;
  await rm(dir, { recursive: true, force: true });
  // What it had reported as downloaded when stopped; everything beyond the missing rest was fetched twice.
  const had = Math.max(atAbort, reported);
  const again = sent - (size - had);
  const limit = 0.01 * had + 16 * MiB;
  return `| node-llama-cpp 3.21.1, deleteTempFileOnCancel ${!keepTemp} | abort ${abort} with ${f0(had / MiB)} MiB reported; resume fetched ${f0(sent / MiB)} MiB, ${f0(again / MiB)} MiB of it already downloaded${complete ? '' : ', file INCOMPLETE'} | ≤ ${f0(limit / MiB)} MiB ${again <= limit ? 'met' : 'NOT met'} |`;
}

const f0 = (n: number): string => n.toFixed(0);

/** Deterministic, incompressible-looking bytes. */
async function writeTestFile(file: string, size: number): Promise<string> {
  const fh = await open(file, 'w');
  const hash = createHash('sha256');
  const block = Buffer.alloc(4 * MiB);
  let x = 0x9e3779b9;
  try {
    for (let off = 0; off < size; off += block.length) {
      for (let i = 0; i < block.length; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        block.writeUInt32LE(x >>> 0, i);
      }
      const n = Math.min(block.length, size - off);
      hash.update(block.subarray(0, n));
      await fh.write(block, 0, n, off);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

async function plainFetch(url: string, dest: string, fsync: boolean): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`fetch ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), createWriteStream(dest));
  if (fsync) {
    const fh = await open(dest, 'r+');
    await fh.sync();
    await fh.close();
  }
}

const mibps = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000);

/** Runs the benchmark and returns a Markdown table. */
export async function downloadBench(options: DownloadBenchOptions): Promise<string> {
  const size = options.sizeBytes ?? 256 * MiB;
  const runs = options.runs ?? 3;
  await mkdir(options.dir, { recursive: true });
  const src = path.join(options.dir, 'source.bin');
  const sha = await writeTestFile(src, size);
  const server = await startLoopbackServer({ 'file.gguf': { path: src } });
  const url = server.url('file.gguf');
  const rates: Record<'plain' | 'plainSync' | 'ours' | 'oursNoSync', number[]> = { plain: [], plainSync: [], ours: [], oursNoSync: [] };
  const timed = async (key: keyof typeof rates, fn: (dest: string) => Promise<unknown>): Promise<void> => {
    const dest = path.join(options.dir, `${key}.bin`);
    const t = performance.now();
    await fn(dest);
    rates[key].push(mibps(size, performance.now() - t));
    await rm(dest, { force: true });
  };
  try {
    for (let i = 0; i < runs; i++) {
      await timed('plain', (d) => plainFetch(url, d, false));
      await timed('ours', (d) => downloadFile({ url, dest: d, sha256: sha, size }));
      await timed('plainSync', (d) => plainFetch(url, d, true));
      await timed('oursNoSync', (d) => downloadFile({ url, dest: d, sha256: sha, size }, { fsync: false }));
    }

    // Resume: stop at about half, then finish; count what the server sent the second time.
    const dest = path.join(options.dir, 'resumed.bin');
    const ac = new AbortController();
    await downloadFile({ url, dest, sha256: sha }, { signal: ac.signal, progressIntervalMs: 0, onProgress: (p) => p.receivedBytes >= size / 2 && ac.abort() }).catch(
      (err: unknown) => {
        if ((err as { code?: string }).code !== 'ABORTED') throw err;
      },
    );
    const onDisk = await partialBytes(dest);
    const served = (): number => server.served.get('file.gguf') ?? 0;
    const servedBefore = server.served.get('file.gguf') ?? 0;
    const t = performance.now();
    const r = await downloadFile({ url, dest, sha256: sha });
    const resumeMs = performance.now() - t;
    const sent = (server.served.get('file.gguf') ?? 0) - servedBefore;
    const refetched = sent - (size - onDisk);
    const limit = 0.01 * onDisk + 16 * MiB;
    const ok = (await stat(dest)).size === size && r.sha256 === sha;
    await rm(dest, { force: true });
    const nlc =
      options.nodeLlamaCpp === false
        ? null
        : [
            await nodeLlamaCppResume(url, path.join(options.dir, 'nlc'), size, served, false),
            await nodeLlamaCppResume(url, path.join(options.dir, 'nlc'), size, served, true),
          ];

    const median = (xs: number[]): number => {
      const v = [...xs].sort((x, y) => x - y);
      return v.length % 2 ? (v[(v.length - 1) / 2] as number) : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
    };
    const f = (n: number): string => n.toFixed(0);
    const row = (label: string, xs: number[]): string => `| ${label} | ${f(median(xs))} MiB/s (runs: ${xs.map(f).join(', ')}) | |`;
    const ratio = median(rates.ours) / median(rates.plain);
    const ratioSync = median(rates.ours) / median(rates.plainSync);
    return [
      `Download from a loopback server, ${f(size / MiB)} MiB file, median of ${runs} interleaved runs`,
      '',
      '| Measure | Value | Target |',
      '| --- | --- | --- |',
      row('Plain single-stream fetch → file', rates.plain),
      row('Plain fetch → file, then fsync', rates.plainSync),
      row('Ours: Range, streamed sha256, size check, fsync, rename', rates.ours),
      row('Ours without fsync', rates.oursNoSync),
      `| Ratio ours / plain fetch | ${ratio.toFixed(2)} | ≥ 1.0 ${ratio >= 1 ? 'met' : 'NOT met'} |`,
      `| Ratio ours / plain fetch + fsync | ${ratioSync.toFixed(2)} | |`,
      `| On disk when resumed | ${f(onDisk / MiB)} MiB | |`,
      `| Re-fetched after resume (bytes already on disk) | ${refetched} bytes | ≤ ${f(limit / MiB)} MiB (1% + 16 MiB) ${refetched <= limit ? 'met' : 'NOT met'} |`,
      `| Resume: prefix re-hash + rest of file | ${f(resumeMs)} ms, file ${ok ? 'identical (sha256)' : 'DIFFERENT'} | |`,
      ...(nlc ?? []),
    ].join('\n');
  } finally {
    await server.close();
    await rm(options.dir, { recursive: true, force: true });
  }
}
