// `npm run serve` stopped with SIGTERM (a service manager, a terminal closing, Ctrl+C in some
// shells) must stop the server, not leave it running without npm.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { getFixtures, REPO_ROOT } from '../helpers/fixtures';

const refuses = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });

it('stops the server when npm run serve gets SIGTERM', { timeout: 120_000 }, async () => {
  const fx = await getFixtures();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'firellava-npm-serve-'));
  const npm = spawn('npm', ['run', 'serve', '--', '--model', fx.pair.model, '--mmproj', fx.pair.mmproj, '--port', '0', '--data-dir', dataDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      npm.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /ready at http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
        if (m) resolve(Number(m[1]));
      });
      npm.once('exit', (code) => reject(new Error(`npm exited (${code}) before the server was ready:\n${out}`)));
    });
    expect(await refuses(port)).toBe(false);
    npm.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (!(await refuses(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await refuses(port)).toBe(true);
  } finally {
    npm.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
