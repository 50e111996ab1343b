// Shared by the browser tests: build if needed, start `firellava serve` on a data folder, launch
// Debian Chromium, and a slower generated model for tests that must act while an answer streams.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { writeLlavaPair, type LlavaPairPaths } from '../../electron/fixtures/tiny-llava';
import { REPO_ROOT } from './fixtures';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'firellava.cjs');
const RENDERER = path.join(REPO_ROOT, 'dist', 'renderer', 'index.html');

/** `npm test` builds first; a lone `vitest run tests/e2e` builds whatever is missing. */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync(process.execPath, ['scripts/build-node.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (!existsSync(RENDERER)) {
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
  }
}

export interface Served {
  child: ChildProcess;
  url: string;
  origin: string;
  key: string;
  stderr: () => string;
}

/**
 * pair null: no model given, as on a first run (the data folder's active pair, if any, loads).
 * node.args go to node before the CLI (e.g. --require); node.ipc opens an IPC channel (child.send).
 */
export function startServer(
  pair: LlavaPairPaths | null,
  dataDir: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  node: { args?: string[]; ipc?: boolean } = {},
): Promise<Served> {
  const model = pair ? ['--model', pair.model, '--mmproj', pair.mmproj] : [];
  const child = spawn(process.execPath, [...(node.args ?? []), CLI, 'serve', ...model, '--data-dir', dataDir, '--port', '0', ...extraArgs], {
    cwd: REPO_ROOT,
    stdio: node.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL in 30 s. stderr:\n${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^FireLLaVA ready at (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        const url = new URL(m[1]!);
        resolve({ child, url: m[1]!, origin: url.origin, key: url.searchParams.get('key') ?? '', stderr: () => err });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early (${code ?? signal}). stderr:\n${err}`));
    });
  });
}

export async function stopServer(served: Served | undefined): Promise<number | null> {
  if (!served || served.child.exitCode !== null || served.child.signalCode !== null) return served?.child.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => served.child.once('exit', (code) => resolve(code)));
  served.child.kill('SIGTERM');
  return exited;
}

/** The model manager page alone (tests/models/harness), built into `out` for `serve --static-dir`. */
export async function buildModelManagerHarness(out: string): Promise<void> {
  await build({
    root: path.join(REPO_ROOT, 'tests', 'models', 'harness'),
    base: './',
    logLevel: 'warn',
    configFile: false,
    plugins: [svelte()],
    build: { outDir: out, emptyOutDir: true, target: 'chrome130', modulePreload: { polyfill: false } },
  });
}

export function launchChromium(tmp: string): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    env: { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'xdg'), HOME: path.join(tmp, 'home') },
  });
}

/**
 * A generated pair wide enough that an answer takes seconds on the CPU build (the tiny pair writes
 * hundreds of tokens in 0.1 s), so a test can stop it or kill the server mid-answer. Cached.
 */
export async function getSlowPair(): Promise<LlavaPairPaths> {
  const dir = path.join(REPO_ROOT, '.cache', 'fixtures', 'slow-chat-v1');
  const pair = { model: path.join(dir, 'model-f16.gguf'), mmproj: path.join(dir, 'mmproj-f16.gguf') };
  if (existsSync(pair.model) && existsSync(pair.mmproj)) return pair;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await writeLlavaPair(tmp, { tensorType: 'f16', seed: 5, text: { name: 'slow-chat', nEmbd: 768, nLayer: 4, nHead: 12, nHeadKv: 12, nFf: 2048, nCtx: 4096 } });
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return pair;
}
