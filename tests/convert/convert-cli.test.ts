// The headless path users take: `firellava fixtures --hf-checkpoint` then `firellava convert`,
// and the worker-thread job API the app drives (progress, cancel, errors across the thread).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertLlava } from '../../electron/convert/convert-llava';
import { startConversion } from '../../electron/convert/convert-runner';
import type { ConvertProgress } from '../../electron/convert/convert-llava';
import { CheckpointError } from '../../electron/convert/safetensors';
import { validateModelPair } from '../../electron/engine/model-validator';
import { REPO_ROOT } from '../helpers/fixtures';

const run = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'firellava.cjs');
const WORKER = path.join(REPO_ROOT, 'dist', 'convert', 'convert-worker.cjs');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

let dir: string;

beforeAll(async () => {
  if (!existsSync(CLI) || !existsSync(WORKER)) throw new Error('dist/ is missing: run "npm run build:node" first (npm test does)');
  dir = await mkdtemp(path.join(os.tmpdir(), 'convert-cli-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('firellava convert', () => {
  test('fixtures --hf-checkpoint, then convert --quant q4_0 prints a valid pair', async () => {
    const ck = path.join(dir, 'ck');
    const f = await run(process.execPath, [CLI, 'fixtures', '--hf-checkpoint', '--out', ck]);
    expect(f.stdout).toContain(ck);
    const c = await run(process.execPath, [CLI, 'convert', '--from', ck, '--out', path.join(dir, 'out'), '--quant', 'q4_0', '--no-sync']);
    const model = /model\s+(\S+)/.exec(c.stdout)?.[1];
    const mmproj = /mmproj\s+(\S+)/.exec(c.stdout)?.[1];
    expect(model).toMatch(/q4_0\.gguf$/);
    const check = await validateModelPair({ model: model!, mmproj: mmproj! });
    expect(check.ok).toBe(true);
    expect(c.stderr).toMatch(/ready/);
  });

  test('a folder that is not a checkpoint: exit code 1 and the reason, nothing written', async () => {
    const out = path.join(dir, 'out-bad');
    const err = (await run(process.execPath, [CLI, 'convert', '--from', path.join(dir, 'missing'), '--out', out]).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/no model\.safetensors/);
    expect(existsSync(out) ? await readdir(out) : []).toEqual([]);
  });

  test('bad options: exit code 2 with usage', async () => {
    const err = (await run(process.execPath, [CLI, 'convert', '--from', dir, '--out', dir, '--quant', 'q3_k']).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/--quant must be one of/);
  });
});

describe('worker-thread job', () => {
  test('reports progress to ready and resolves with the pair', async () => {
    const ck = path.join(dir, 'ck');
    const seen: ConvertProgress[] = [];
    const job = startConversion({ from: ck, outDir: path.join(dir, 'job'), quant: 'q8_0', sync: false }, { workerEntry: WORKER, onProgress: (p) => seen.push(p) });
    const r = await job.done;
    expect(seen[0]!.phase).toBe('inspect');
    expect(seen[seen.length - 1]!.phase).toBe('ready');
    expect(job.latest?.phase).toBe('ready');
    expect((await validateModelPair({ model: r.model, mmproj: r.mmproj })).ok).toBe(true);
  });

  test('cancel stops the worker, rejects with CANCELLED and leaves nothing behind', async () => {
    const ck = path.join(dir, 'ck');
    const out = path.join(dir, 'job-cancel');
    let job: ReturnType<typeof startConversion> | undefined;
    // One-element chunks make the tiny conversion slow enough to stop half-way.
    job = startConversion({ from: ck, outDir: out, quant: 'f16', sync: false, chunkElements: 1 }, {
      workerEntry: WORKER,
      onProgress: (p) => {
        if (p.phase === 'convert') job?.cancel();
      },
    });
    const err = await job.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe('CANCELLED');
    expect(await readdir(out)).toEqual([]);
  });

  test('the encode pool writes byte-identical files to single-thread encoding, in order', async () => {
    const ck = path.join(dir, 'ck');
    for (const quant of ['q4_0', 'q8_0', 'f32'] as const) {
      const names = { modelFileName: 'm.gguf', mmprojFileName: 'p.gguf' };
      const pooled = await startConversion({ from: ck, outDir: path.join(dir, `pool-${quant}`), quant, sync: false, chunkElements: 4096, encodeWorkers: 3, ...names }, { workerEntry: WORKER })
        .done;
      const single = await convertLlava({ from: ck, outDir: path.join(dir, `single-${quant}`), quant, sync: false, chunkElements: 4096, ...names });
      expect(sha(await readFile(pooled.model)), quant).toBe(sha(await readFile(single.model)));
      expect(sha(await readFile(pooled.mmproj)), quant).toBe(sha(await readFile(single.mmproj)));
    }
  });

  test('errors cross the thread with their code', async () => {
    const job = startConversion({ from: path.join(dir, 'nope'), outDir: path.join(dir, 'job-err'), quant: 'f16' }, { workerEntry: WORKER });
    await expect(job.done).rejects.toMatchObject({ code: 'NOT_LLAVA' });
  });
});
