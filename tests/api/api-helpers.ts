// Shared pieces of the API tests: `firellava serve` as a child process, raw HTTP, a tiny model
// with a 4096-token context (long enough answers to stop one half-way), image data URLs.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeLlavaPair, type LlavaPairPaths } from '../../electron/fixtures/tiny-llava';
import { REPO_ROOT } from '../helpers/fixtures';
import { raw, type RawResponse } from '../helpers/raw-http';

export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'firellava.cjs');
export const KEY = 'api-test-key-0123456789abcdef';

export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync(process.execPath, ['scripts/build-node.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/** The tiny test model with room for answers of a few thousand tokens. */
export function writeLongContextPair(dir: string): Promise<LlavaPairPaths> {
  return writeLlavaPair(dir, { tensorType: 'f32', text: { nCtx: 4096 } });
}

export const dataUrl = (file: string, mime = 'image/png'): string => `data:${mime};base64,${readFileSync(file).toString('base64')}`;

export interface Served {
  child: ChildProcess;
  origin: string;
  port: number;
  stderr: () => string;
  stop(): Promise<void>;
}

export function startServe(pair: LlavaPairPaths, dataDir: string, extra: string[] = []): Promise<Served> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--model', pair.model, '--mmproj', pair.mmproj, '--data-dir', dataDir, '--port', '0', '--api-key', KEY, ...extra],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL in 30 s. stderr:\n${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^FireLLaVA ready at (http:\/\/[^/\s]+)\/\S*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, origin: m[1]!, port: Number(new URL(m[1]!).port), stderr: () => err, stop });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early (${code ?? signal}). stderr:\n${err}`));
    });
  });
}

/** The model is loaded in the background after the URL is printed: wait until /v1/models lists it. */
export async function waitForModel(origin: string): Promise<string> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const r = await fetch(`${origin}/v1/models`, { headers: { Authorization: `Bearer ${KEY}` } });
    const body = (await r.json()) as { data: { id: string }[] };
    if (body.data[0]) {
      const probe = await fetch(`${origin}/v1/completions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: body.data[0].id, prompt: 'hi', max_tokens: 1 }),
      });
      if (probe.status === 200) return body.data[0].id;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the model did not become ready in 30 s');
}

export { raw, type RawResponse } from '../helpers/raw-http';

export const postJson = (port: number, route: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> =>
  raw(port, {
    method: 'POST',
    path: route,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

export interface ApiErrorShape {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorOf(r: RawResponse): ApiErrorShape['error'] {
  const parsed = JSON.parse(r.body) as ApiErrorShape;
  return parsed.error;
}
