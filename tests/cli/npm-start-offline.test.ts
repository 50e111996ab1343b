// `npm start` without the Electron binary and without a way to download it: one line that says why
// and that `npm run serve` works, not Electron's "fetch failed" stack trace. The download goes to a
// closed local port (ELECTRON_MIRROR), so the test is the same online and offline.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures';

const installed = existsSync(path.join(REPO_ROOT, 'node_modules', 'electron', 'path.txt'));

it('npm start runs the wrapper, and the Node version stated is the one Electron needs', async () => {
  const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };
  const electron = JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as { engines: { node: string } };
  expect(pkg.scripts.start).toBe('node scripts/start.mjs');
  const least = (range: string): string => range.replace(/[\s>=]/g, '').replace(/\.0$/, '');
  expect(least(pkg.engines.node)).toBe(least(electron.engines.node));
  expect(await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain(`(Node.js ${least(pkg.engines.node)}+)`);
});

it.skipIf(installed)('npm start says in one line that Electron must be downloaded and that npm run serve works without it', { timeout: 60_000 }, async () => {
  const cache = await mkdtemp(path.join(os.tmpdir(), 'firellava-electron-cache-'));
  try {
    const result = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'scripts', 'start.mjs')], {
      cwd: REPO_ROOT,
      env: { ...process.env, ELECTRON_MIRROR: 'http://127.0.0.1:9/', electron_config_cache: cache },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^npm start: Electron is not installed yet and its download \(from the internet, on first start\) failed: .+\. "npm run serve" runs the same app in your browser without Electron\.$/);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});
