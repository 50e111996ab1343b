// Continue in Debian Chromium against `firellava serve` (tiny generated model): an answer cut at
// Max tokens says so and offers Continue, which grows the same answer in place and saves it. Each
// test cuts an answer in a conversation of its own.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeLlavaPair } from '../../electron/fixtures/tiny-llava';
import { openChatPage, openNewConversation, type ChatPage } from '../helpers/chat-page';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('Continue a cut answer in Chromium', () => {
  let served: Served;
  let browser: Browser;
  let chat: ChatPage;
  let page: Page;
  let tmp: string;
  let conversationId = '';
  let title = '';
  let count = 0;

  const answer = () => page.locator('article.assistant');
  const waitIdle = () => page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 60_000 });
  const savedAnswer = (): Promise<{ text: string; status: string; stats: { finishReason: string; completionTokens: number } }> =>
    page.evaluate(async (id) => {
      const r = (await (await fetch('rpc/conversations.get', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id }) })).json()) as {
        value: { messages: { role: string; text: string; status: string; stats: { finishReason: string; completionTokens: number } }[] };
      };
      return r.value.messages.filter((m) => m.role === 'assistant').at(-1)!;
    }, conversationId);

  beforeAll(async () => {
    ensureBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-continue-e2e-'));
    // A context long enough that the answer is cut by Max tokens, not by the context.
    const pair = await writeLlavaPair(path.join(tmp, 'model'), { tensorType: 'f32', text: { nCtx: 4096 } });
    served = await startServer(pair, path.join(tmp, 'data'));
    browser = await launchChromium(tmp);
  }, 120_000);

  beforeEach(async () => {
    chat = await openChatPage(browser, served);
    page = chat.page;
    title = `Long story ${++count}`;
    conversationId = await openNewConversation(page, title);
  }, 90_000);

  afterEach(async () => {
    const problems = chat?.problems ?? [];
    await chat?.close();
    expect(problems, 'script errors').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    expect(await stopServer(served), served?.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Sends with Max tokens 6, so the answer is cut. */
  const cutAnswer = async (): Promise<void> => {
    await page.getByRole('button', { name: 'Chat settings' }).click();
    await page.getByLabel('Max tokens').fill('6');
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Seed').fill('3');
    await page.getByRole('button', { name: 'Apply to this conversation' }).click();
    await page.getByLabel('Message', { exact: true }).fill('Write a long story about a red mug.');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => answer().count(), { timeout: 30_000 }).toBe(1);
    await waitIdle();
  };

  /** Cuts an answer, then grows it once. */
  const grownAnswer = async (): Promise<void> => {
    await cutAnswer();
    await answer().getByRole('button', { name: 'Continue' }).click();
    await waitIdle();
    await expect.poll(() => answer().getByTestId('cut-notice').textContent(), { timeout: 30_000 }).toMatch(/\(12 tokens\)/);
  };

  it('a small Max tokens cuts the answer, and the cut is shown with a Continue button', async () => {
    await cutAnswer();
    await expect.poll(() => answer().getByTestId('cut-notice').textContent()).toMatch(/Cut at the length limit \(6 tokens\)/);
    expect(await answer().getByRole('button', { name: 'Continue' }).isEnabled()).toBe(true);
  });

  it('Continue grows the same answer in place and saves the longer text with the new count', async () => {
    await cutAnswer();
    const before = await savedAnswer();
    expect(before.stats).toMatchObject({ finishReason: 'length', completionTokens: 6 });
    const shownBefore = (await answer().locator('.markdown').textContent()) ?? '';
    await answer().getByRole('button', { name: 'Continue' }).click();
    await waitIdle();
    await expect.poll(() => answer().getByTestId('cut-notice').textContent(), { timeout: 30_000 }).toMatch(/\(12 tokens\)/);
    expect(await answer().count()).toBe(1);
    expect(await answer().getByTestId('version').count()).toBe(0); // grown, not a second version
    const shownAfter = (await answer().locator('.markdown').textContent()) ?? '';
    expect(shownAfter.length).toBeGreaterThan(shownBefore.length);
    const after = await savedAnswer();
    expect(after.text.startsWith(before.text)).toBe(true);
    expect(after.text.length).toBeGreaterThan(before.text.length);
    expect(after).toMatchObject({ status: 'complete', stats: { finishReason: 'length', completionTokens: 12 } });
  });

  it('after a reload the grown answer is what is shown', async () => {
    await grownAnswer();
    const shown = await answer().locator('.markdown').textContent();
    await page.reload();
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: title, exact: true }).click();
    await expect.poll(() => answer().locator('.markdown').textContent()).toBe(shown);
    expect(await answer().getByTestId('cut-notice').textContent()).toMatch(/\(12 tokens\)/);
  });
});
