// What the Chromium tests do to get a page of their own on a shared `firellava serve`: a fresh
// context and page that records script errors, the page's authenticated RPC, pasting an image, a
// conversation of its own and a question answered. Each `it` builds its state from these, so one
// runs alone (`npx vitest run FILE -t NAME`) as well as in its file.
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Served } from './serve';

export interface ChatPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
  close(): Promise<void>;
}

export interface ChatPageOptions {
  viewport?: { width: number; height: number };
  /** Console errors a test expects (e.g. one refused request). */
  expectedConsole?: RegExp;
  clipboard?: boolean;
  acceptDownloads?: boolean;
  /** Wait for the local model to be Ready (default true). */
  ready?: boolean;
  /** Open the served URL (default true); false leaves the first visit to the test. */
  goto?: boolean;
}

export async function openChatPage(browser: Browser, served: Served, options: ChatPageOptions = {}): Promise<ChatPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 800 }, acceptDownloads: options.acceptDownloads ?? false });
  if (options.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: served.origin });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !options.expectedConsole?.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  if (options.goto ?? true) {
    await page.goto(served.url);
    if (options.ready ?? true) await waitReady(page);
  }
  return { context, page, problems, close: () => context.close() };
}

export function waitReady(page: Page, timeout = 60_000): Promise<void> {
  return page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor({ timeout });
}

/** The page's own authenticated RPC (its cookie), for set-up the UI would take many steps for. */
export function rpc<T = { id?: string }>(page: Page, name: string, input: unknown): Promise<{ ok: boolean; value: T; error?: { message: string } }> {
  return page.evaluate(
    async ({ name, input }) => (await fetch(`rpc/${name}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(input) })).json(),
    { name, input },
  );
}

/** Pastes a file through a synthetic ClipboardEvent and waits for its thumbnail. */
export async function pasteImage(page: Page, file: string, name: string): Promise<void> {
  const bytes = [...readFileSync(file)];
  await page.getByLabel('Message', { exact: true }).evaluate(
    (target, { bytes, name }) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
      target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    },
    { bytes, name },
  );
  await page.getByRole('img', { name: `Attached image ${name}` }).waitFor({ timeout: 10_000 });
}

/** A conversation of the test's own, with its settings, opened in the page. Returns its id. */
export async function openNewConversation(page: Page, title: string, params: Record<string, unknown> = {}): Promise<string> {
  const created = await rpc(page, 'conversations.create', { title });
  if (!created.ok || !created.value.id) throw new Error(`could not create "${title}": ${created.error?.message}`);
  if (Object.keys(params).length > 0) await rpc(page, 'conversations.settings', { id: created.value.id, params });
  await page.reload();
  await waitReady(page);
  await page.getByRole('button', { name: title, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
  return created.value.id;
}

/** Sends `text` (with whatever is pending) and waits until the answer has ended. */
export async function ask(page: Page, text: string, timeout = 60_000): Promise<void> {
  const answers = page.locator('article.assistant');
  const before = await answers.count();
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('article.assistant').length > n, before, { timeout });
  await page.getByRole('button', { name: 'Send' }).waitFor({ timeout });
}
