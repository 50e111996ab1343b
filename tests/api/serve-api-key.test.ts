// `firellava serve` takes its key from FIRELLAVA_API_KEY (not visible in ps) and warns about --api-key.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures';
import { raw } from '../helpers/raw-http';
import { CLI, ensureBuilt } from './api-helpers';

const KEY = 'env-test-key-0123456789abcdef';

/** Starts serve without a model, waits for its URL line, stops it; returns the URL, stderr and a /v1 status. */
async function serveOnce(args: string[], env: NodeJS.ProcessEnv, dataDir: string): Promise<{ url: string; stderr: string; v1Status: number }> {
  const base = { ...process.env };
  delete base.FIRELLAVA_API_KEY;
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--port', '0', '--cpu', ...args], {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL in 30 s. stderr:\n${err}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^FireLLaVA ready at (\S+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then(() => reject(new Error(`serve exited early. stderr:\n${err}`)));
    });
    const port = Number(new URL(url).port);
    const v1 = await raw(port, { path: '/v1/models', headers: { Authorization: `Bearer ${KEY}` } });
    return { url, stderr: err, v1Status: v1.status };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('firellava serve key', () => {
  let dataDir: string;
  beforeAll(() => {
    ensureBuilt();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'firellava-serve-key-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('takes the key from FIRELLAVA_API_KEY without a warning', async () => {
    const r = await serveOnce([], { FIRELLAVA_API_KEY: KEY }, dataDir);
    expect(new URL(r.url).searchParams.get('key')).toBe(KEY);
    expect(r.v1Status).toBe(200);
    expect(r.stderr).not.toMatch(/--api-key/);
  }, 60_000);

  it('warns that --api-key is visible in ps and points to FIRELLAVA_API_KEY', async () => {
    const r = await serveOnce(['--api-key', KEY], {}, dataDir);
    expect(new URL(r.url).searchParams.get('key')).toBe(KEY);
    expect(r.stderr).toMatch(/Warning: --api-key .*ps.*FIRELLAVA_API_KEY/);
  }, 60_000);
});
