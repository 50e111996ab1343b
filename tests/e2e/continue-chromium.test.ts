// Continue in Debian Chromium against `firellava serve` (tiny generated model): an answer cut at
// Max tokens says so and offers Continue, which grows the same answer in place and saves it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLlavaPair } from '../../electron/fixtures/tiny-llava';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('Continue a cut answer in Chromium', () => {
  let served: Served;
  let browser: Browser;
  let page: Page;
  let tmp: string;
  let conversationId = '';
  const problems: string[] = [];

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
    page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    await page.goto(served.url);
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor({ timeout: 60_000 });
    const created = await page.evaluate(
      async () => (await (await fetch('rpc/conversations.create', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ title: 'Long story' }) })).json()) as { value: { id: string } },
    );
    conversationId = created.value.id;
    await page.reload();
    await page.getByRole('button', { name: 'Long story', exact: true }).click();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    expect(await stopServer(served), served?.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a small Max tokens cuts the answer, and the cut is shown with a Continue button', async () => {
    await page.getByRole('button', { name: 'Chat settings' }).click();
    await page.getByLabel('Max tokens').fill('6');
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Seed').fill('3');
    await page.getByRole('button', { name: 'Apply to this conversation' }).click();
    await page.getByLabel('Message', { exact: true }).fill('Write a long story about a red mug.');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => answer().count(), { timeout: 30_000 }).toBe(1);
    await waitIdle();
    await expect.poll(() => answer().getByTestId('cut-notice').textContent()).toMatch(/Cut at the length limit \(6 tokens\)/);
    expect(await answer().getByRole('button', { name: 'Continue' }).isEnabled()).toBe(true);
  });

  it('Continue grows the same answer in place and saves the longer text with the new count', async () => {
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
    const shown = await answer().locator('.markdown').textContent();
    await page.reload();
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Long story', exact: true }).click();
    await expect.poll(() => answer().locator('.markdown').textContent()).toBe(shown);
    expect(await answer().getByTestId('cut-notice').textContent()).toMatch(/\(12 tokens\)/);
    expect(problems).toEqual([]);
  });
});
