// The headless path a newcomer takes: `firellava pull` from a loopback server, killed half way and
// run again (a new process resumes), `firellava models`, then `firellava serve --data-dir` loads
// the active pair and answers a chat with the real engine.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateEvent } from '../../electron/shared/types';
import { createHttpClient } from '../../electron/transport/http-client';
import { getFixtures, REPO_ROOT, type Fixtures } from '../helpers/fixtures';
import { startLoopbackServer, type LoopbackServer } from './loopback-server';

const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'firellava.cjs');
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { killWhen?: () => boolean } = {}): Promise<Ran> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HF_TOKEN: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let timer: NodeJS.Timeout | undefined;
  if (opts.killWhen) {
    timer = setInterval(() => {
      if (opts.killWhen!()) child.kill('SIGKILL');
    }, 20);
  }
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

let fx: Fixtures;
let server: LoopbackServer;
let dataDir: string;
let serveChild: ChildProcess | undefined;

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-node.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
  fx = await getFixtures();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'firellava-cli-'));
  server = await startLoopbackServer({
    'repo/model.gguf': { path: fx.pair.model },
    'repo/mmproj.gguf': { path: fx.pair.mmproj },
    'gated/model.gguf': { path: fx.pair.model, token: 'hf_x' },
  });
});
afterAll(async () => {
  serveChild?.kill('SIGKILL');
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('firellava pull / models / serve --data-dir', () => {
  it('a killed pull resumes in a new process, fetching only what is missing', async () => {
    const args = ['pull', '--data-dir', dataDir, '--model-url', server.url('repo/model.gguf'), '--mmproj-url', server.url('repo/mmproj.gguf'), '--sha256-model', sha(fx.pair.model)];
    server.throttle = 150 * 1024;
    const partOnDisk = (): number => {
      const dir = path.join(dataDir, 'models');
      if (!existsSync(dir)) return 0;
      for (const d of readdirSync(dir)) {
        const p = path.join(dir, d, 'model.gguf.part');
        if (existsSync(p)) return statSync(p).size;
      }
      return 0;
    };
    const killed = await cli(args, { killWhen: () => partOnDisk() > 150_000 });
    expect(killed.signal).toBe('SIGKILL');
    const kept = partOnDisk();
    expect(kept).toBeGreaterThan(150_000);

    const listed = await cli(['models', '--data-dir', dataDir]);
    expect(listed.stdout).toMatch(/model-[0-9a-f]{8}\s+incomplete/);

    server.throttle = 0;
    const servedBefore = server.served.get('repo/model.gguf')!;
    const resumed = await cli(args);
    expect(resumed.stderr).toMatch(/pair 100\.0%/);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^Ready: model-[0-9a-f]{8} \(model\), 717 KB in .* \[active\]$/m);
    // The rest of the file, plus the 1-byte access check; kept may lag the kill by one write.
    const refetched = server.served.get('repo/model.gguf')! - servedBefore;
    expect(refetched).toBeLessThanOrEqual(readFileSync(fx.pair.model).length - kept + 1);

    const after = await cli(['models', '--data-dir', dataDir]);
    expect(after.stdout).toMatch(/^\* model-[0-9a-f]{8}\s+ready\s+717 KB  model$/m);
    const again = await cli(args);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already installed and ready/);
  });

  it('explains gated, missing and malformed sources with exit code 1 or 2', async () => {
    const gated = await cli(['pull', '--data-dir', dataDir, '--model-url', server.url('gated/model.gguf'), '--mmproj-url', server.url('repo/mmproj.gguf')]);
    expect(gated.code).toBe(1);
    expect(gated.stderr).toMatch(/Access denied \(401\) to model\.gguf: accept the license at .* and add a Hugging Face token/);
    const missing = await cli(['pull', '--data-dir', dataDir, '--model-url', server.url('repo/model.gguf'), '--mmproj-url', server.url('repo/mmproj-Q9.gguf')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/File not found \(404\): mmproj-Q9\.gguf/);
    const both = await cli(['pull', '--data-dir', dataDir, '--catalog', 'firellava-13b', '--model-url', 'http://x/a.gguf']);
    expect(both.code).toBe(2);
    const badSha = await cli(['pull', '--data-dir', dataDir, '--model-url', 'http://x/a.gguf', '--mmproj-url', 'http://x/b.gguf', '--sha256-model', 'abc']);
    expect(badSha.code).toBe(2);
    expect(badSha.stderr).toMatch(/sha256 must be 64 hex digits/);
  });

  it('serve --data-dir loads the active pair and answers a chat', async () => {
    const apiKey = 'k'.repeat(32);
    serveChild = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--port', '0', '--api-key', apiKey, '--cpu'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    serveChild.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const origin = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`no URL: ${err}`)), 30_000);
      serveChild!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready at (http:\/\/[^/\s]+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const client = createHttpClient({ baseUrl: origin, apiKey });
    let state = '';
    for (let i = 0; i < 200 && state !== 'ready'; i++) {
      const s = await client.call('engine.status', {});
      state = s.ok ? s.value.state : 'error';
      if (state === 'error') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(state, err).toBe('ready');
    expect(err).toMatch(/Loading model \(model-[0-9a-f]{8}\)/);
    const list = await client.call('models.list', {});
    expect(list.ok && list.value.map((m) => [m.status, m.active])).toEqual([['ready', true]]);
    const events: GenerateEvent[] = [];
    const done = await client.stream('chat.generate', { conversationId: 'c1', turns: [{ role: 'user', text: 'Hello' }], params: { maxTokens: 4, topK: 1, seed: 1 } }, (e) => events.push(e)).done;
    expect(done.ok).toBe(true);
    expect(events.at(-1)?.type).toBe('done');
  });
});
