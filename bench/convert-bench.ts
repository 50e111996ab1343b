// Conversion throughput and memory: converts a generated FireLLaVA-shaped HF checkpoint (>= 2 GB
// with the default 2 text layers) through `firellava convert` (worker thread, as users run it)
// and compares MB/s with a plain streamed copy of the same shard bytes made just before each
// conversion (the load of a shared machine moves). Slow and disk-hungry: `npm run bench` runs it
// only with BENCH_CONVERT=1.
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
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
  /** Copy + convert rounds per quantization (median); default 3. */
  rounds?: number;
  /**
   * fsync each output file, in the copy and in the conversion (default true, what users run).
   * Without it both race the page cache, whose write throttling varied a copy's time 3x here.
   */
  sync?: boolean;
  keep?: boolean;
}

async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
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
  const sync = o.sync ?? true;
  const load = (): string => os.loadavg()[0]!.toFixed(1);
  // Plain copy of the same bytes: read and write streams, fsynced like the conversion (or neither).
  const copyDir = path.join(o.dir, 'copy');
  const streamCopy = async (): Promise<number> => {
    await rm(copyDir, { recursive: true, force: true });
    await mkdir(copyDir);
    const t = performance.now();
    for (const f of shards) {
      await pipeline(createReadStream(path.join(ck, f), { highWaterMark: 4 << 20 }), createWriteStream(path.join(copyDir, f)));
      if (sync) await fsyncFile(path.join(copyDir, f));
    }
    const seconds = (performance.now() - t) / 1000;
    await rm(copyDir, { recursive: true, force: true });
    return seconds;
  };
  const gbIn = (bytes / 1e9).toFixed(2);
  let l0 = load();
  const copySeconds = await streamCopy();
  const copyMBs = bytes / 1e6 / copySeconds;
  rows.push(`| plain copy (read/write streams, 4 MiB${sync ? ', fsync' : ''}) | ${l0} | ${gbIn} GB | ${copySeconds.toFixed(1)} | ${copyMBs.toFixed(0)} | 1.00× | — | — |`);
  // The kernel's own copy (copy_file_range), for scale: no user-space pass over the bytes.
  await mkdir(copyDir);
  l0 = load();
  let t0 = performance.now();
  for (const f of shards) {
    await copyFile(path.join(ck, f), path.join(copyDir, f));
    if (sync) await fsyncFile(path.join(copyDir, f));
  }
  const kSeconds = (performance.now() - t0) / 1000;
  await rm(copyDir, { recursive: true, force: true });
  rows.push(`| fs.copyFile (kernel copy) | ${l0} | ${gbIn} GB | ${kSeconds.toFixed(1)} | ${(bytes / 1e6 / kSeconds).toFixed(0)} | ${(copySeconds / kSeconds).toFixed(2)}× | — | — |`);

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const quant of o.quants ?? ['f16', 'q8_0', 'q4_0', 'q4_k_m']) {
    const out = path.join(o.dir, `out-${quant}`);
    // The load of a shared machine moves (and so does how fast the page cache takes writes):
    // each conversion follows a copy of the same bytes, rounds alternate, medians are compared.
    const copies: number[] = [];
    const converts: number[] = [];
    const loads: string[] = [];
    let rss = '?';
    let outBytes = 0;
    for (let round = 0; round < (o.rounds ?? 3); round++) {
      copies.push(await streamCopy());
      await rm(out, { recursive: true, force: true });
      process.stderr.write(`convert bench: ${quant} (round ${round + 1})…\n`);
      loads.push(load());
      t0 = performance.now();
      const r = await run(process.execPath, [o.cli, 'convert', '--from', ck, '--out', out, '--quant', quant, ...(sync ? [] : ['--no-sync'])], { maxBuffer: 16 << 20 });
      converts.push((performance.now() - t0) / 1000);
      rss = /peak RSS (\d+) MB/.exec(r.stderr)?.[1] ?? '?';
      outBytes = await dirBytes(out);
      await rm(out, { recursive: true, force: true });
    }
    const seconds = median(converts);
    const mbs = bytes / 1e6 / seconds;
    const cMBs = bytes / 1e6 / median(copies);
    rows.push(`| convert → ${quant} (+ mmproj F16) | ${loads.join(', ')} | ${gbIn} GB | ${seconds.toFixed(1)} | ${mbs.toFixed(0)} | ${(mbs / cMBs).toFixed(2)}× (copy ${cMBs.toFixed(0)}) | ${(outBytes / 1e9).toFixed(2)} GB | ${rss} MB |`);
  }
  if (!o.keep) await rm(ck, { recursive: true, force: true });
  return [
    `${os.availableParallelism()} cores (load average ${load()} at the end). Conversion of a FireLLaVA-shaped checkpoint (13B widths, ${o.textLayers ?? 2}/40 text layers, full CLIP-L; F16 safetensors, ${shards.length} shards; ${sync ? 'every output file fsynced, copy and conversion alike' : 'no fsync'}); seconds (medians over ${o.rounds ?? 3} rounds) include process start, header checks and the final validation; each conversion round follows a stream copy of the same bytes, and the ratio is of the medians.`,
    '',
    '| run | load | input | s | MB/s | vs copy | output | peak RSS |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
