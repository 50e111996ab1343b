// `npm run bench` in its smoke mode: every section once, small, no thresholds. A bench that breaks
// (a contract change its scripted client missed, a renamed option) fails here instead of rotting.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures';

it('runs every bench section once and prints each table', { timeout: 540_000 }, async () => {
  const build = spawnSync(process.execPath, ['scripts/build-node.mjs', '--bench'], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
  const cache = await mkdtemp(path.join(os.tmpdir(), 'firellava-bench-smoke-'));
  try {
    const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'bench', 'bench.cjs'), '--smoke', '--cache', cache], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: 520_000,
    });
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const tables = run.stdout.split('\n').filter((l) => /^(FireLLaVA bench|Slots:|Store:|Renderer:|Review grid:|OpenAI-compatible API|Catalog:|Download from)/.test(l));
    expect(tables.map((l) => l.split(/[ ,:]/)[0])).toEqual(['FireLLaVA', 'Slots', 'Store', 'Renderer', 'Review', 'OpenAI-compatible', 'Catalog', 'Download']);
    expect(run.stdout).not.toMatch(/skipped: no Chromium/);
    // The rows a reader compares: the grid's slow scroll, the catalog job with items side by side.
    expect(run.stdout).toMatch(/review grid, 1,000 px\/s \(rows filled as they enter\)/);
    expect(run.stdout).toMatch(/job, 2 items side by side \(3 slots\) +\d+\.\d items\/min/);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});
