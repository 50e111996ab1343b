// Conversion throughput and memory: converts a generated FireLLaVA-shaped HF checkpoint (>= 2 GB
// with the default 2 text layers) through `firellava convert` (worker thread, as users run it)
// and compares MB/s with a plain streamed copy of the same shard bytes in the same run. Slow and
// disk-hungry: `npm run bench` runs it only with BENCH_CONVERT=1.
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { FIRELLAVA_HF_TEXT, FIRELLAVA_HF_VISION, writeHfCheckpoint } from '../electron/fixtures/hf-checkpoint';

const run = promisify(execFile);

export interface ConvertBenchOptions {
  /** Scratch folder (checkpoint, copy and outputs; removed afterwards unless keep). */
  dir: string;
  /** dist/cli/firellava.cjs */
  cli: string;
  textLayers?: number;
  quants?: string[];
  keep?: boolean;
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(path.join(dir, f))).size;
  return n;
}

/** Returns a Markdown table; progress goes to stderr. */
export async function convertBench(o: ConvertBenchOptions): Promise<string> {
  const ck = path.join(o.dir, `hf-firellava-${o.textLayers ?? 2}l`);
  await mkdir(o.dir, { recursive: true });
  if (!existsSync(path.join(ck, 'model.safetensors.index.json'))) {
    process.stderr.write(`convert bench: writing checkpoint ${ck}…\n`);
    await writeHfCheckpoint(ck, { dtype: 'F16', shards: 4, text: { ...FIRELLAVA_HF_TEXT, layers: o.textLayers ?? 2 }, vision: FIRELLAVA_HF_VISION });
  }
  const shards = (await readdir(ck)).filter((f) => f.endsWith('.safetensors'));
  const bytes = (await Promise.all(shards.map((f) => stat(path.join(ck, f))))).reduce((s, st) => s + st.size, 0);

  const rows: string[] = [];
  // Plain copy of the same bytes: read and write streams, no fsync (the conversion skips it too).
  const copyDir = path.join(o.dir, 'copy');
  await rm(copyDir, { recursive: true, force: true });
  await mkdir(copyDir);
  let t0 = performance.now();
  for (const f of shards) await pipeline(createReadStream(path.join(ck, f), { highWaterMark: 4 << 20 }), createWriteStream(path.join(copyDir, f)));
  const copySeconds = (performance.now() - t0) / 1000;
  const copyMBs = bytes / 1e6 / copySeconds;
  await rm(copyDir, { recursive: true, force: true });
  rows.push(`| plain copy (read/write streams, 4 MiB) | ${(bytes / 1e9).toFixed(2)} GB | ${copySeconds.toFixed(1)} | ${copyMBs.toFixed(0)} | 1.00× | — | — |`);
  // The kernel's own copy (copy_file_range), for scale: no user-space pass over the bytes.
  await mkdir(copyDir);
  t0 = performance.now();
  for (const f of shards) await copyFile(path.join(ck, f), path.join(copyDir, f));
  const kSeconds = (performance.now() - t0) / 1000;
  await rm(copyDir, { recursive: true, force: true });
  rows.push(`| fs.copyFile (kernel copy) | ${(bytes / 1e9).toFixed(2)} GB | ${kSeconds.toFixed(1)} | ${(bytes / 1e6 / kSeconds).toFixed(0)} | ${((bytes / kSeconds) / (bytes / copySeconds)).toFixed(2)}× | — | — |`);

  for (const quant of o.quants ?? ['f16', 'q8_0', 'q4_0']) {
    const out = path.join(o.dir, `out-${quant}`);
    await rm(out, { recursive: true, force: true });
    process.stderr.write(`convert bench: ${quant}…\n`);
    t0 = performance.now();
    const r = await run(process.execPath, [o.cli, 'convert', '--from', ck, '--out', out, '--quant', quant, '--no-sync'], { maxBuffer: 16 << 20 });
    const seconds = (performance.now() - t0) / 1000;
    const rss = /peak RSS (\d+) MB/.exec(r.stderr)?.[1] ?? '?';
    const outBytes = await dirBytes(out);
    const mbs = bytes / 1e6 / seconds;
    rows.push(`| convert → ${quant} (+ mmproj F16) | ${(bytes / 1e9).toFixed(2)} GB | ${seconds.toFixed(1)} | ${mbs.toFixed(0)} | ${(mbs / copyMBs).toFixed(2)}× | ${(outBytes / 1e9).toFixed(2)} GB | ${rss} MB |`);
    await rm(out, { recursive: true, force: true });
  }
  if (!o.keep) await rm(ck, { recursive: true, force: true });
  return [
    `${os.availableParallelism()} cores (load average ${os.loadavg()[0]!.toFixed(1)} at the end). Conversion of a FireLLaVA-shaped checkpoint (13B widths, ${o.textLayers ?? 2}/40 text layers, full CLIP-L; F16 safetensors, ${shards.length} shards); seconds include process start, header checks and the final validation.`,
    '',
    '| run | input | s | MB/s | vs copy | output | peak RSS |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
