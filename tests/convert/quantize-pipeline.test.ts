// The quantizing pipeline around the kernels: worker pool with recycled chunk buffers and a
// chunk stream that runs across tensor boundaries, in-place encoding, the default thread count.
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { convertLlava } from '../../electron/convert/convert-llava';
import { defaultEncodeWorkers, startConversion } from '../../electron/convert/convert-runner';
import { ChunkBuffers, encodeTask } from '../../electron/convert/encode-pool';
import { writeHfCheckpoint } from '../../electron/fixtures/hf-checkpoint';
import { GgmlType } from '../../electron/gguf/ggml-types';
import { f32ArrayToF16 } from '../../electron/gguf/gguf-writer';
import { REPO_ROOT } from '../helpers/fixtures';

const WORKER = path.join(REPO_ROOT, 'dist', 'convert', 'convert-worker.cjs');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
let dir: string;

beforeAll(async () => {
  if (!existsSync(WORKER)) throw new Error('dist/ is missing: run "npm run build:node" first (npm test does)');
  dir = await mkdtemp(path.join(os.tmpdir(), 'quantize-pipeline-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('encode threads: cores - 1 up to 8, but both cores of a dual-core (the converting thread mostly waits)', () => {
  expect([1, 2, 3, 4, 8, 16, 64].map((c) => defaultEncodeWorkers(c))).toEqual([1, 2, 2, 3, 7, 8, 8]);
});

test('chunk buffers are reused, never handed out twice, and only the largest few are kept', () => {
  const b = new ChunkBuffers(2);
  const first = b.take(1000);
  expect(first.byteOffset).toBe(0);
  b.give(first.buffer);
  b.give(first.buffer); // twice: still one entry
  const again = b.take(800);
  expect(again.buffer).toBe(first.buffer);
  expect(again.length).toBe(800);
  expect(b.take(800).buffer).not.toBe(first.buffer);
  for (const n of [10, 5000, 20, 3000]) b.give(new ArrayBuffer(n));
  expect(b.take(2500).buffer.byteLength).toBeGreaterThanOrEqual(3000);
  expect(b.take(2500).buffer.byteLength).toBeGreaterThanOrEqual(3000);
  expect(b.take(5).buffer.byteLength).toBe(5); // the small ones were dropped
});

test('in-place encoding reuses the input buffer only when rows keep their order and do not grow', () => {
  const x = Float32Array.from({ length: 4 * 512 }, (_, i) => Math.sin(i) * 0.05);
  const h = f32ArrayToF16(x);
  const task = (type: number, headDim = 0) => ({ dtype: 'F16' as const, type, raw: new Uint8Array(h.slice().buffer), rows: 4, rowLength: 512, headDim });
  for (const type of [GgmlType.Q4_K, GgmlType.Q8_0, GgmlType.F16]) {
    const fresh = encodeTask(task(type));
    const t = task(type);
    const inPlace = encodeTask(t, true);
    expect(inPlace.buffer).toBe(t.raw.buffer);
    expect(Buffer.from(inPlace).equals(Buffer.from(fresh))).toBe(true);
  }
  const permuted = task(GgmlType.Q8_0, 4);
  expect(encodeTask(permuted, true).buffer).not.toBe(permuted.raw.buffer);
  const grows = task(GgmlType.F32);
  expect(encodeTask(grows, true).buffer).not.toBe(grows.raw.buffer);
});

test('q4_k_m through two workers with small chunks (many per tensor, queued across tensors) equals single-thread', async () => {
  const ck = path.join(dir, 'wide');
  await writeHfCheckpoint(ck, { dtype: 'BF16', text: { hidden: 256, ff: 512 } });
  const names = { modelFileName: 'm.gguf', mmprojFileName: 'p.gguf' };
  for (const quant of ['q4_k_m', 'q8_0'] as const) {
    const pooled = await startConversion({ from: ck, outDir: path.join(dir, `pool-${quant}`), quant, sync: false, chunkElements: 2048, encodeWorkers: 2, ...names }, { workerEntry: WORKER }).done;
    const single = await convertLlava({ from: ck, outDir: path.join(dir, `single-${quant}`), quant, sync: false, chunkElements: 1 << 20, ...names });
    expect(sha(await readFile(pooled.model)), quant).toBe(sha(await readFile(single.model)));
    expect(sha(await readFile(pooled.mmproj)), quant).toBe(sha(await readFile(single.mmproj)));
  }
});
