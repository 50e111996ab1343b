// The whole slice in a real browser: `firellava serve` with the tiny generated models, the built
// renderer in Debian Chromium, an image pasted through a synthetic ClipboardEvent, a streamed answer.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openChatPage, waitReady, type ChatPage } from '../helpers/chat-page';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

async function pasteFile(page: Page, file: string, type: string): Promise<void> {
  const bytes = [...readFileSync(file)];
  await page.getByLabel('Message', { exact: true }).evaluate(
    (target, { bytes, name, type }) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], name, { type }));
      target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    },
    { bytes, name: path.basename(file), type },
  );
}

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('firellava serve + renderer in Chromium', () => {
  let fixtures: Fixtures;
  let served: Served;
  let browser: Browser;
  let chat: ChatPage;
  let page: Page;
  let tmp: string;
  /** Each test but the first starts on a ready chat. */
  const openReady = async (): Promise<void> => {
    await page.goto(served.url);
    await waitReady(page, 30_000);
  };

  beforeAll(async () => {
    ensureBuilt();
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-e2e-'));
    served = await startServer(fixtures.pair, path.join(tmp, 'data'));
    browser = await launchChromium(tmp);
  });

  beforeEach(async () => {
    // Refused uploads (422) are expected in one test; any other failed load is not.
    chat = await openChatPage(browser, served, { viewport: { width: 1280, height: 720 }, expectedConsole: /status of 422/, goto: false });
    page = chat.page;
  });

  afterEach(async () => {
    const problems = chat?.problems ?? [];
    await chat?.close();
    expect(problems, 'script errors or CSP violations').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    if (served && served.child.exitCode === null) expect(await stopServer(served), served.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('opens with the printed URL, drops the key from the address bar and keeps it from scripts', async () => {
    const response = await page.goto(served.url);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).search).toBe('');
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toMatch(/^Ready/);
  });

  it('paste an image, ask, and see the answer stream in', async () => {
    await openReady();
    await pasteFile(page, fixtures.images.png32, 'image/png');
    const thumb = page.getByRole('img', { name: /Attached image/ });
    await thumb.waitFor({ timeout: 10_000 });
    expect(await page.getByRole('list', { name: 'Images to send' }).textContent()).toContain('32×32');
    expect(await thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(32);

    // Count every change of the messages, to see the answer arrive in pieces rather than all at once.
    await page.getByTestId('messages').evaluate((el) => {
      const w = window as unknown as { answerUpdates: number };
      w.answerUpdates = 0;
      new MutationObserver(() => w.answerUpdates++).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await page.getByLabel('Message', { exact: true }).fill('What is in this picture?');
    const send = page.getByRole('button', { name: 'Send' });
    await send.click();
    const answer = page.locator('article.assistant .markdown');
    await expect.poll(async () => (await answer.textContent())?.length ?? 0, { timeout: 30_000 }).toBeGreaterThan(0);
    await send.waitFor({ timeout: 30_000 }); // Stop turns back into Send when the answer ends
    expect(await page.locator('article.assistant').getAttribute('data-status')).toBe('complete');
    expect(await page.evaluate(() => (window as unknown as { answerUpdates: number }).answerUpdates)).toBeGreaterThan(0);
    expect(await page.getByRole('alert').allTextContents()).toEqual([]);
  });

  it('shows the backend reason for a damaged image', async () => {
    await openReady();
    await pasteFile(page, fixtures.images.truncatedPng, 'image/png');
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toMatch(/damaged or incomplete[\s\S]*truncated \(PNG/);
    // The decoder's words sit folded in <details>: not visible until opened.
    expect(await page.getByRole('alert').innerText()).not.toMatch(/truncated/);
    expect(await page.getByRole('alert').locator('details').textContent()).toMatch(/truncated \(PNG/);
    await pasteFile(page, fixtures.images.notAnImage, 'image/png');
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toMatch(/not a supported image/);
  });

  it('opens the model manager from the status bar, with the catalog, and Esc closes it', async () => {
    await openReady();
    await page.getByRole('button', { name: 'Models…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Models' });
    await dialog.getByRole('region', { name: 'Model manager' }).waitFor({ timeout: 10_000 });
    await expect.poll(() => dialog.textContent(), { timeout: 10_000 }).toMatch(/FireLLaVA/i);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog', { name: 'Models' }).count()).toBe(0);
  });
});
