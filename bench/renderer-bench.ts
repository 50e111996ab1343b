// The chat view under a fast stream: the built renderer in Debian Chromium, its backend replaced by
// a scripted client (window.api) that streams N tokens at a fixed rate, while the page records
// every animation frame. Returns a Markdown table.
import os from 'node:os';
import type { EngineList } from '../electron/shared/contracts/engines';
import { SCRIPTED_ENGINES, SCRIPTED_STATUS, frameTable, measureMainThread, recordFrames, withScriptedPage } from './chromium-page';

export interface RendererBenchOptions {
  rendererDir: string;
  tokens?: number;
  tokensPerSecond?: number;
  chromium?: string;
}

/** Runs in the page before the app: a ContractClient that answers from a script. */
function installScriptedClient(config: { tokens: number; rate: number; engines: EngineList; status: typeof SCRIPTED_STATUS }): void {
  const words = ['The ', 'glaze ', 'is ', 'a ', 'deep ', 'cobalt ', 'blue, ', 'with ', '**glossy** ', 'finish. '];
  const pieces: string[] = [];
  for (let i = 0; i < config.tokens; i++) {
    if (i % 120 === 119) pieces.push('\n\n');
    else if (i % 400 === 399) pieces.push('\n\n```js\nconst mug = { colour: "blue" };\n```\n\n');
    else if (i % 250 === 249) pieces.push('\n\n- feature one\n- feature two\n\n');
    else pieces.push(words[i % words.length]!);
  }
  const now = Date.now();
  const status = config.status;
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
          // Later, as a real transport delivers: an event inside stream() runs in the caller's effect.
          setTimeout(() => onEvent(status));
          cancel = () => resolve({ ok: false, error: { code: 'CANCELLED', message: 'Cancelled' } });
          return;
        }
        setTimeout(() => streamAnswer(resolve));
      });
      const streamAnswer = (resolve: (r: unknown) => void): void => {
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
      };
      return { cancel: () => cancel(), done };
    },
  };
}

export async function rendererStreamBench(options: RendererBenchOptions): Promise<string> {
  const tokens = options.tokens ?? 5000;
  const rate = options.tokensPerSecond ?? 1000;
  const clientArg = { tokens, rate, engines: SCRIPTED_ENGINES, status: SCRIPTED_STATUS };
  return withScriptedPage('Renderer stream bench', { ...options, viewport: { width: 1100, height: 800 }, install: (page) => page.addInitScript(installScriptedClient, clientArg) }, async (page) => {
    const stopFrames = await recordFrames(page);
    const mainThread = await measureMainThread(page);
    const started = Date.now();
    await page.getByLabel('Message', { exact: true }).fill('Describe it');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    await page.waitForFunction(() => (window as unknown as { __benchDone: boolean }).__benchDone, undefined, { timeout: Math.max(30_000, (tokens / rate) * 1000 * 4), polling: 100 });
    const wallMs = Date.now() - started;
    const spent = await mainThread();
    const frames = await stopFrames();
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
    return [
      `Renderer: ${tokens.toLocaleString('en')} tokens at ${rate.toLocaleString('en')} tok/s streamed into the chat view (headless Chromium, ${os.cpus().length} cores); the answer ended with ${chars?.length.toLocaleString('en')} characters in ${(wallMs / 1000).toFixed(1)} s.`,
      '',
      frameTable([{ frames, mainThread: spent }]),
    ].join('\n');
  });
}
