// What the renderer benches share: the built renderer served to headless Debian Chromium with a
// scripted backend (window.api) installed before the app, every animation frame recorded, CDP's
// main-thread time, and one table line of frame statistics.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type * as Playwright from 'playwright-core';
import { serveStatic } from '../electron/server/static-files';
import type { EngineList } from '../electron/shared/contracts/engines';

/** Loaded at run time: esbuild cannot bundle playwright-core (it reads its own package.json). */
const playwright = (): typeof Playwright => createRequire(__filename)('playwright-core') as typeof Playwright;

/** Typed here so a contract change that the scripted clients must follow fails tsc, not the bench. */
export const SCRIPTED_ENGINES: EngineList = {
  defaultEngineId: 'local',
  keyStorage: 'memory',
  engines: [{ id: 'local', kind: 'local', name: 'This computer', baseUrl: null, model: null, sendTopK: true, keySaved: false, keyless: false }],
  problem: null,
};

export const SCRIPTED_STATUS = { state: 'ready', message: 'Ready (scripted)', model: null, device: null, gpuLayers: null, fallbackReason: null, error: null, progress: null };

export interface ScriptedPageOptions {
  rendererDir: string;
  chromium?: string;
  viewport: { width: number; height: number };
  /** Installs the scripted window.api before the app runs (page.addInitScript). */
  install: (page: Playwright.Page) => Promise<unknown>;
}

/**
 * Opens the built renderer on a scripted backend, waits for its Ready status, runs `use`.
 * Returns `use`'s result, or a sentence saying the bench was skipped (no Chromium).
 */
export async function withScriptedPage<T>(name: string, options: ScriptedPageOptions, use: (page: Playwright.Page) => Promise<T>): Promise<T | string> {
  const executablePath = options.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) return `${name} skipped: no Chromium at ${executablePath}.`;
  const server = createServer((req, res) => void serveStatic(req, res, options.rendererDir, new URL(req.url ?? '/', 'http://x').pathname));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'firellava-render-bench-'));
  const browser = await playwright().chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    env: { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'xdg'), HOME: path.join(tmp, 'home') },
  });
  try {
    const page = await browser.newPage({ viewport: options.viewport });
    await options.install(page);
    // The Ready status below is what the bench needs; waiting for every subresource only adds a way to time out on a loaded machine.
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded', timeout: 120_000 });
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor();
    return await use(page);
  } finally {
    await browser.close();
    server.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Starts recording every animation frame's interval; the returned function stops and reads them. */
export async function recordFrames(page: Playwright.Page): Promise<() => Promise<number[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __framesOn: boolean };
    w.__frames = [];
    w.__framesOn = true;
    let last = performance.now();
    const tick = (t: number): void => {
      if (!w.__framesOn) return;
      w.__frames.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  return async () =>
    (
      await page.evaluate(() => {
        const w = window as unknown as { __frames: number[]; __framesOn: boolean };
        w.__framesOn = false;
        return w.__frames;
      })
    ).slice(1); // the first interval starts before recording did
}

/** CDP's main-thread counters from now: the returned function gives ms spent since. */
export async function measureMainThread(page: Playwright.Page): Promise<() => Promise<string>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async (): Promise<Record<string, number>> =>
    Object.fromEntries(((await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }).metrics.map((m) => [m.name, m.value]));
  const before = await metrics();
  return async () => {
    const after = await metrics();
    const spent = (k: string): string => `${((after[k]! - before[k]!) * 1000).toFixed(0)}`;
    return `${spent('TaskDuration')} (${spent('ScriptDuration')} / ${spent('LayoutDuration')} / ${spent('RecalcStyleDuration')})`;
  };
}

const HEAD = '| frames | over 50 ms (target 0) | longest ms | p95 ms | dropped at 60 Hz | main thread busy ms (script / layout / style) |';

export interface FrameRun {
  /** What was measured; with labels the table gets a first column for them. */
  label?: string;
  frames: number[];
  /** From measureMainThread. */
  mainThread: string;
}

/** A Markdown table of frame statistics, one row per run. */
export function frameTable(runs: FrameRun[], labelHead = 'run'): string {
  const labelled = runs.some((r) => r.label !== undefined);
  const head = labelled ? `| ${labelHead} ${HEAD}` : HEAD;
  const rule = `|${'---|'.repeat((labelled ? 1 : 0) + 6)}`;
  return [head, rule, ...runs.map((r) => (labelled ? `| ${r.label ?? ''} ${frameRow(r)}` : frameRow(r)))].join('\n');
}

function frameRow({ frames, mainThread }: FrameRun): string {
  const sorted = [...frames].sort((a, b) => a - b);
  const longest = sorted.at(-1) ?? 0;
  const p95 = sorted[Math.floor(sorted.length * 0.95)] ?? 0;
  const over = frames.filter((f) => f > 50).length;
  const dropped = frames.reduce((n, f) => n + Math.max(0, Math.round(f / (1000 / 60)) - 1), 0);
  return `| ${frames.length} | ${over} ${over > 0 ? '✗' : '✓'} | ${longest.toFixed(1)} | ${p95.toFixed(1)} | ${dropped} | ${mainThread} |`;
}
