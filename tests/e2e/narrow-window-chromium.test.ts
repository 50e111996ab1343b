// Issue #13 item 7 in Debian Chromium against `firellava serve` (tiny generated model): at 640 and
// 800 px the page never scrolls sideways, the chat title stays visible, every App settings control
// can be reached, and the sidebar collapses (button and Ctrl+B, remembered) or overlays when narrow.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const SLOW = { timeout: 30_000 };
const TITLE = 'Shelf labels for the spring catalogue';

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('narrow windows in Chromium', () => {
  let served: Served | undefined;
  let browser: Browser;
  let page: Page;
  let tmp: string;

  const rpc = (name: string, input: unknown): Promise<{ ok: boolean; value?: { id?: string } }> =>
    page.evaluate(
      async ({ name, input }) => (await fetch(`rpc/${name}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(input) })).json(),
      { name, input },
    );
  const nav = () => page.getByRole('navigation', { name: 'Conversations' });
  const sideScroll = (): Promise<{ scrollWidth: number; clientWidth: number }> =>
    page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
  /** Whether a click at the centre of what matches `selector` would reach it. */
  const reachable = (selector: string): Promise<boolean> =>
    page.locator(selector).first().evaluate((el) => {
      const r = el.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return r.width > 0 && r.left >= 0 && r.right <= document.documentElement.clientWidth && !!hit && el.contains(hit);
    });

  beforeAll(async () => {
    ensureBuilt();
    const fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-narrow-e2e-'));
    served = await startServer(fixtures.pair, path.join(tmp, 'data'), ['--cpu']);
    browser = await launchChromium(tmp);
    page = await browser.newPage({ viewport: { width: 800, height: 700 } });
    await page.goto(served.url);
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor(SLOW);
    const created = await rpc('conversations.create', { title: TITLE });
    await rpc('conversations.settings', { id: created.value!.id, params: { maxTokens: 40, seed: 1 } });
    await page.reload();
    await page.getByRole('button', { name: TITLE, exact: true }).click();
    await page.getByLabel('Message', { exact: true }).fill('Write three short shelf labels');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    await page.locator('article.assistant[data-status="complete"]').waitFor(SLOW);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopServer(served);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const width of [800, 640]) {
    it(`at ${width} px: no sideways scroll, the title and every App settings control in reach`, async () => {
      await page.setViewportSize({ width, height: 700 });
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(TITLE);
      const scroll = await sideScroll();
      expect(scroll.scrollWidth).toBeLessThanOrEqual(scroll.clientWidth);
      expect((await page.getByRole('heading', { level: 1 }).boundingBox())!.width).toBeGreaterThan(100);
      expect(await reachable('main h1')).toBe(true);
      for (const name of ['Chat settings', 'App settings', 'Export JSON']) expect(await reachable(`main header button:text-is("${name}")`), name).toBe(true);

      await page.getByRole('button', { name: 'App settings' }).click();
      const dialog = page.getByRole('dialog', { name: 'App settings' });
      await dialog.getByRole('button', { name: 'Reveal' }).waitFor(SLOW);
      const inDialog = await sideScroll();
      expect(inDialog.scrollWidth).toBeLessThanOrEqual(inDialog.clientWidth);
      // Each visible control, scrolled to, lies inside the window and takes the click itself.
      const unreachable = await dialog.evaluate((d) => {
        const missed: string[] = [];
        let checked = 0;
        const dr = d.getBoundingClientRect();
        if (d.scrollWidth > d.clientWidth) missed.push(`dialog scrolls sideways (${d.scrollWidth} > ${d.clientWidth})`);
        for (const el of d.querySelectorAll<HTMLElement>('button, input, select, textarea, summary, a[href], [tabindex="0"]')) {
          if (!el.checkVisibility()) continue;
          checked++;
          el.scrollIntoView({ block: 'center', inline: 'nearest' });
          const r = el.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          const inside = r.left >= dr.left && r.right <= dr.right && r.right <= document.documentElement.clientWidth;
          if (!inside || !hit || !(el.contains(hit) || (el instanceof HTMLInputElement && hit.contains(el)))) missed.push(`${el.tagName} ${el.textContent?.trim() || el.getAttribute('aria-label') || el.getAttribute('name') || ''}`);
        }
        return { missed, checked };
      });
      expect(unreachable.missed).toEqual([]);
      expect(unreachable.checked).toBeGreaterThan(10);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached', ...SLOW });
    });
  }

  it('at 800 px the sidebar collapses with its button or Ctrl+B, and stays so after a reload', async () => {
    await page.setViewportSize({ width: 800, height: 700 });
    // The layout follows a resize on its media query's change event, a moment after it.
    await expect.poll(() => nav().isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Hide conversations' }).click();
    expect(await nav().isVisible()).toBe(false);
    expect((await page.locator('main').boundingBox())!.x).toBe(0);
    expect(await page.getByRole('button', { name: 'Show conversations' }).getAttribute('aria-expanded')).toBe('false');

    await page.reload();
    await page.getByRole('button', { name: 'Show conversations' }).waitFor(SLOW);
    expect(await nav().isVisible()).toBe(false);
    await page.keyboard.press('Control+B');
    expect(await nav().isVisible()).toBe(true);
    await page.reload();
    await page.getByRole('button', { name: 'Hide conversations' }).waitFor(SLOW);
    expect(await nav().isVisible()).toBe(true);
    expect((await page.locator('main').boundingBox())!.x).toBeGreaterThanOrEqual(200);
  });

  it('at 640 px the sidebar overlays the chat and closes once a conversation is chosen', async () => {
    await page.setViewportSize({ width: 640, height: 700 });
    await expect.poll(() => nav().isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Show conversations' }).click();
    expect(await nav().isVisible()).toBe(true);
    // Over the chat, not beside it: the chat keeps the whole width.
    expect((await page.locator('main').boundingBox())!.width).toBe(640);
    expect(await reachable(`nav button[aria-label="${TITLE}"]`)).toBe(true);
    const scroll = await sideScroll();
    expect(scroll.scrollWidth).toBeLessThanOrEqual(scroll.clientWidth);
    // Keyboard users land in it, and Escape hands the focus back to the button.
    expect(await page.evaluate(() => !!document.querySelector('nav')?.contains(document.activeElement))).toBe(true);
    await page.keyboard.press('Escape');
    expect(await nav().isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-controls'))).toBe('sidebar');

    await page.keyboard.press('Control+B');
    await page.getByRole('button', { name: '+ New chat' }).click();
    await expect.poll(() => nav().isVisible()).toBe(false);
    await page.keyboard.press('Control+B');
    await page.getByRole('button', { name: TITLE, exact: true }).click();
    await expect.poll(() => nav().isVisible()).toBe(false);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(TITLE);
  });
});
