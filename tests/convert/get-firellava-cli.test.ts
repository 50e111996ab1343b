// `firellava convert --hf`: the headless "Get FireLLaVA" (same pipeline as the app) against a
// Hugging Face-like loopback server named by FIRELLAVA_HF_ORIGIN.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateModelPair } from '../../electron/engine/model-validator';
import { writeHfCheckpoint } from '../../electron/fixtures/hf-checkpoint';
import { REPO_ROOT } from '../helpers/fixtures';
import { startHfServer, type HfServer } from './get-firellava-server';

const run = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'firellava.cjs');
const REPO = 'fireworks-ai/FireLLaVA-13b';
let tmp: string;
let hf: HfServer;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run "npm run build:node" first (npm test does)');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'get-firellava-cli-'));
  await writeHfCheckpoint(path.join(tmp, 'ck'), { shards: 2 });
  hf = await startHfServer(path.join(tmp, 'ck'), tmp, { token: 'hf_clitoken1234' });
});

afterAll(async () => {
  await hf?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: '', FIRELLAVA_HF_ORIGIN: hf.origin, ...extra });
const failed = (p: Promise<unknown>): Promise<{ code: number; stdout: string; stderr: string }> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );

describe('firellava convert --hf', () => {
  test('--out: downloads, converts to a valid pair, deletes the checkpoint', async () => {
    const out = path.join(tmp, 'out');
    const r = await run(process.execPath, [CLI, 'convert', '--hf', REPO, '--out', out, '--quant', 'q8_0', '--no-sync'], { env: env({ HF_TOKEN: 'hf_clitoken1234' }) });
    const model = /model\s+(\S+)/.exec(r.stdout)?.[1];
    const mmproj = /mmproj\s+(\S+)/.exec(r.stdout)?.[1];
    expect(model).toBe(path.join(out, 'FireLLaVA-13b-q8_0.gguf'));
    expect((await validateModelPair({ model: model!, mmproj: mmproj! })).ok).toBe(true);
    // One line per phase change at least, in order.
    const phases = r.stderr.split('\n').map((l) => l.split(' ')[0]).filter((p, i, a) => p && a[i - 1] !== p);
    expect(phases.slice(0, 4)).toEqual(['download', 'convert', 'verify', 'ready']);
    expect(r.stderr).toMatch(/checkpoint deleted/);
    expect(r.stderr).not.toContain('hf_clitoken1234');
    expect((await readdir(out)).sort()).toEqual(['FireLLaVA-13b-q8_0.gguf', 'mmproj-FireLLaVA-13b-f16.gguf']);
  }, 60_000);

  test('--data-dir: installs the pair as the active model', async () => {
    const dataDir = path.join(tmp, 'data');
    const r = await run(process.execPath, [CLI, 'convert', '--hf', REPO, '--data-dir', dataDir, '--keep-checkpoint', '--no-sync'], { env: env({ HF_TOKEN: 'hf_clitoken1234' }) });
    expect(r.stdout).toMatch(/Ready: firellava-13b-q4_0 \(FireLLaVA-13b Q4_0\) \[active\]/);
    expect(existsSync(path.join(dataDir, 'checkpoints', 'fireworks-ai', 'FireLLaVA-13b', 'config.json'))).toBe(true);
    const list = JSON.parse((await run(process.execPath, [CLI, 'models', '--data-dir', dataDir, '--json'])).stdout) as { id: string; status: string; active: boolean }[];
    expect(list.map((m) => [m.id, m.status, m.active])).toEqual([['firellava-13b-q4_0', 'ready', true]]);
  }, 60_000);

  test('killed mid-download (SIGKILL), the same command resumes: no byte fetched twice, no file that looks finished', async () => {
    const out = path.join(tmp, 'out-crash');
    const shard = 'model-00001-of-00002.safetensors';
    const part = path.join(out, 'checkpoints', 'fireworks-ai', 'FireLLaVA-13b', `${shard}.part`);
    const servedBefore = hf.server.served.get(hf.name(shard)) ?? 0;
    hf.server.throttle = 48 * 1024;
    const child = spawn(process.execPath, [CLI, 'convert', '--hf', REPO, '--out', out, '--no-sync'], { env: env({ HF_TOKEN: 'hf_clitoken1234' }), stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await expect.poll(async () => (await stat(part).catch(() => null))?.size ?? 0, { timeout: 20_000, interval: 50 }).toBeGreaterThan(30_000);
    child.kill('SIGKILL');
    await exited;
    const kept = (await stat(part)).size;
    const servedAtKill = hf.server.served.get(hf.name(shard)) ?? 0;
    expect(existsSync(path.join(out, 'checkpoints', 'fireworks-ai', 'FireLLaVA-13b', shard))).toBe(false);
    expect((await readdir(out)).filter((f) => f.endsWith('.gguf'))).toEqual([]);
    hf.server.throttle = 0;
    const r = await run(process.execPath, [CLI, 'convert', '--hf', REPO, '--out', out, '--no-sync'], { env: env({ HF_TOKEN: 'hf_clitoken1234' }) });
    expect(r.stdout).toMatch(/model\s+\S+q4_0\.gguf/);
    const size = hf.sizes.get(shard)!;
    // The rerun fetched exactly the rest; in all, at most what was in flight at the kill came twice.
    expect((hf.server.served.get(hf.name(shard)) ?? 0) - servedAtKill).toBe(size - kept);
    expect((hf.server.served.get(hf.name(shard)) ?? 0) - servedBefore).toBeLessThanOrEqual(size + 64 * 1024);
    expect(hf.server.requests.filter((q) => q.name === hf.name(shard)).at(-1)?.range).toBe(`bytes=${kept}-`);
  }, 60_000);

  test('gated without a token: exit 1 with what to do; bad options: exit 2', async () => {
    const e = await failed(run(process.execPath, [CLI, 'convert', '--hf', REPO, '--out', path.join(tmp, 'out-gated')], { env: env({}) }));
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/Access denied \(401\) to fireworks-ai\/FireLLaVA-13b: No Hugging Face token is set\. Accept the Llama 2 Community License at http:\/\/127\.0\.0\.1:\d+\/fireworks-ai\/FireLLaVA-13b/);
    expect(e.stderr).toMatch(/headless: set HF_TOKEN/);
    expect(existsSync(path.join(tmp, 'out-gated', 'checkpoints', 'fireworks-ai', 'FireLLaVA-13b', 'model-00001-of-00002.safetensors'))).toBe(false);

    const both = await failed(run(process.execPath, [CLI, 'convert', '--hf', REPO], { env: env({}) }));
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--hf needs either --out DIR or --data-dir DIR/);
    const far = await failed(run(process.execPath, [CLI, 'convert', '--hf', REPO, '--out', tmp], { env: env({ FIRELLAVA_HF_ORIGIN: 'http://example.com' }) }));
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/FIRELLAVA_HF_ORIGIN must be an http:\/\/127\.0\.0\.1:PORT/);
    const repo = await failed(run(process.execPath, [CLI, 'convert', '--hf', '../etc', '--out', tmp], { env: env({}) }));
    expect(repo.code).toBe(2);
  });
});
