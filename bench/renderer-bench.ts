// The chat view under a fast stream: the built renderer in Debian Chromium, its backend replaced by
// a scripted client (window.api) that streams N tokens at a fixed rate, while the page records
// every animation frame. Returns a Markdown table.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as Playwright from 'playwright-core';
import { serveStatic } from '../electron/server/static-files';
import type { EngineList } from '../electron/shared/contracts/engines';

/** Loaded at run time: esbuild cannot bundle playwright-core (it reads its own package.json). */
const playwright = (): typeof Playwright => createRequire(__filename)('playwright-core') as typeof Playwright;

export interface RendererBenchOptions {
  rendererDir: string;
  tokens?: number;
  tokensPerSecond?: number;
  chromium?: string;
}

/** Typed here so a contract change that the scripted client must follow fails tsc, not the bench. */
const ENGINES: EngineList = {
  defaultEngineId: 'local',
  keyStorage: 'memory',
  engines: [{ id: 'local', kind: 'local', name: 'This computer', baseUrl: null, model: null, sendTopK: true, keySaved: false, keyless: false }],
  problem: null,
};

/** Runs in the page before the app: a ContractClient that answers from a script. */
function installScriptedClient(config: { tokens: number; rate: number; engines: EngineList }): void {
  const words = ['The ', 'glaze ', 'is ', 'a ', 'deep ', 'cobalt ', 'blue, ', 'with ', '**glossy** ', 'finish. '];
  const pieces: string[] = [];
  for (let i = 0; i < config.tokens; i++) {
    if (i % 120 === 119) pieces.push('\n\n');
    else if (i % 400 === 399) pieces.push('\n\n```js\nconst mug = { colour: "blue" };\n```\n\n');
    else if (i % 250 === 249) pieces.push('\n\n- feature one\n- feature two\n\n');
    else pieces.push(words[i % words.length]!);
  }
  const now = Date.now();
  const status = { state: 'ready', message: 'Ready (scripted)', model: null, device: null, gpuLayers: null, fallbackReason: null, error: null, progress: null };
  const conversation = { id: 'bench', title: 'Bench', createdAt: now, updatedAt: now, deletedAt: null };
  const msg = (id: number, role: string, text: string, status: string) => ({
    id, conversationId: 'bench', parentId: id === 1 ? null : id - 1, role, text, status, error: null, stats: null, createdAt: now, updatedAt: now, attachments: [], versions: { index: 0, ids: [id] },
  });
  const w = window as unknown as Record<string, unknown>;
  w.__benchDone = false;
  w.api = {
    call: async (name: string) => {
      if (name === 'conversations.list') return { ok: true, value: [conversation] };
      if (name === 'conversations.get') return { ok: true, value: { conversation: { ...conversation, system: '', params: {} }, messages: [msg(1, 'user', 'Describe it', 'complete'), msg(2, 'assistant', pieces.join(''), 'complete')] } };
      if (name === 'engine.status') return { ok: true, value: status };
      if (name === 'engines.list') return { ok: true, value: config.engines };
      return { ok: true, value: [] };
    },
    stream: (name: string, _input: unknown, onEvent: (e: unknown) => void) => {
      let cancel = (): void => {};
      const done = new Promise((resolve) => {
        if (name === 'engine.watch') {
          onEvent(status);
          cancel = () => resolve({ ok: false, error: { code: 'CANCELLED', message: 'Cancelled' } });
          return;
        }
        onEvent({ type: 'conversation', conversation });
        onEvent({ type: 'message', message: msg(1, 'user', 'Describe it', 'complete') });
        onEvent({ type: 'message', message: msg(2, 'assistant', '', 'streaming') });
        const start = performance.now();
        let sent = 0;
        const timer = setInterval(() => {
          // Emit exactly as many tokens as the rate allows by now: one event per token.
          const due = Math.min(pieces.length, Math.floor(((performance.now() - start) * config.rate) / 1000));
          for (; sent < due; sent++) onEvent({ type: 'delta', messageId: 2, text: pieces[sent] });
          if (sent >= pieces.length) {
            clearInterval(timer);
            onEvent({ type: 'finished', message: msg(2, 'assistant', pieces.join(''), 'complete') });
            w.__benchDone = true;
            resolve({ ok: true, value: undefined });
          }
        }, 1);
      });
      return { cancel: () => cancel(), done };
    },
  };
}

export async function rendererStreamBench(options: RendererBenchOptions): Promise<string> {
  const tokens = options.tokens ?? 5000;
  const rate = options.tokensPerSecond ?? 1000;
  const executablePath = options.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) return `Renderer stream bench skipped: no Chromium at ${executablePath}.`;
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
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.addInitScript(installScriptedClient, { tokens, rate, engines: ENGINES });
    // The Ready status below is what the bench needs; waiting for every subresource only adds a way to time out on a loaded machine.
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded', timeout: 120_000 });
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor();
    await page.evaluate(() => {
      const w = window as unknown as { __frames: number[] };
      w.__frames = [];
      let last = performance.now();
      const tick = (t: number): void => {
        w.__frames.push(t - last);
        last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const metrics = async (): Promise<Record<string, number>> =>
      Object.fromEntries(((await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }).metrics.map((m) => [m.name, m.value]));
    const before = await metrics();
    const started = Date.now();
    await page.getByLabel('Message', { exact: true }).fill('Describe it');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    await page.waitForFunction(() => (window as unknown as { __benchDone: boolean }).__benchDone, undefined, { timeout: Math.max(30_000, (tokens / rate) * 1000 * 4), polling: 100 });
    const wallMs = Date.now() - started;
    const after = await metrics();
    const spent = (k: string): string => `${((after[k]! - before[k]!) * 1000).toFixed(0)}`;
    const frames = (await page.evaluate(() => (window as unknown as { __frames: number[] }).__frames)).slice(1);
    // The last delta is rendered on the next frame: count what the user sees once it is there. Read
    // from the DOM, not by Playwright's visibility, which an article under content-visibility: auto can fail.
    const answered = () => {
      const articles = [...document.querySelectorAll('article.assistant')];
      const last = articles.at(-1);
      return last?.getAttribute('data-status') === 'complete' ? (last.querySelector('.markdown')?.textContent ?? '') : null;
    };
    const chars = await page
      .waitForFunction(answered, undefined, { timeout: 60_000, polling: 100 })
      .then((h) => h.jsonValue())
      .catch(async (err: unknown) => {
        const seen = await page.evaluate(() => [...document.querySelectorAll('article')].map((a) => `${a.className}:${a.getAttribute('data-status')}`).join(', '));
        throw new Error(`The streamed answer never showed as complete (articles: ${seen || 'none'}): ${String(err)}`);
      });
    const sorted = [...frames].sort((a, b) => a - b);
    const longest = sorted.at(-1) ?? 0;
    const p95 = sorted[Math.floor(sorted.length * 0.95)] ?? 0;
    const dropped = frames.reduce((n, f) => n + Math.max(0, Math.round(f / (1000 / 60)) - 1), 0);
    return [
      `Renderer: ${tokens.toLocaleString('en')} tokens at ${rate.toLocaleString('en')} tok/s streamed into the chat view (headless Chromium, ${os.cpus().length} cores); the answer ended with ${chars?.length.toLocaleString('en')} characters in ${(wallMs / 1000).toFixed(1)} s.`,
      '',
      '| frames | over 50 ms (target 0) | longest ms | p95 ms | dropped at 60 Hz | main thread busy ms (script / layout / style) |',
      '|---|---|---|---|---|---|',
      `| ${frames.length} | ${frames.filter((f) => f > 50).length} ${frames.some((f) => f > 50) ? '✗' : '✓'} | ${longest.toFixed(1)} | ${p95.toFixed(1)} | ${dropped} | ${spent('TaskDuration')} (${spent('ScriptDuration')} / ${spent('LayoutDuration')} / ${spent('RecalcStyleDuration')}) |`,
    ].join('\n');
  } finally {
    await browser.close();
    server.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
