// The in-app theme (issue #13) in Debian Chromium against `firellava serve`: light, dark or the
// system's (emulated prefers-color-scheme), applied at once, remembered, and already right in the
// first frame after a reload (no flash of the other theme).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const SLOW = { timeout: 30_000 };
const LIGHT_BG = 'rgb(255, 255, 255)';
const DARK_BG = 'rgb(24, 24, 27)';

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('theme choice in Chromium', () => {
  let served: Served | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let tmp: string;

  const background = (): Promise<string> => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  /** The page's background in the first frame it rendered (recorded by the init script below). */
  const firstFrame = (): Promise<string | undefined> => page.evaluate(() => (window as unknown as { firstFrameBg?: string }).firstFrameBg);
  const settings = () => page.getByRole('dialog', { name: 'App settings' });

  async function choose(label: string): Promise<void> {
    await page.getByRole('button', { name: 'App settings' }).click();
    await settings().getByRole('radio', { name: label }).check();
  }
  async function closeSettings(): Promise<void> {
    await page.keyboard.press('Escape');
    await settings().waitFor({ state: 'detached', ...SLOW });
  }

  beforeAll(async () => {
    ensureBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-theme-e2e-'));
    served = await startServer(null, path.join(tmp, 'data'), ['--cpu']);
    browser = await launchChromium(tmp);
  }, 120_000);

  // A fresh context each test: the theme chosen in one (kept by the page) does not leak into the next.
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1000, height: 700 }, colorScheme: 'dark' });
    await context.addInitScript(() => {
      requestAnimationFrame(() => {
        (window as unknown as { firstFrameBg?: string }).firstFrameBg = getComputedStyle(document.documentElement).backgroundColor;
      });
    });
    page = await context.newPage();
    await page.goto(served!.url);
    await page.getByRole('button', { name: 'App settings' }).waitFor(SLOW);
  }, 60_000);

  afterEach(async () => {
    await context?.close();
  });

  afterAll(async () => {
    await browser?.close();
    await stopServer(served);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('follows the system by default, as it changes', async () => {
    expect(await background()).toBe(DARK_BG);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await background()).toBe(LIGHT_BG);
    await page.getByRole('button', { name: 'App settings' }).click();
    expect(await settings().getByRole('radio', { name: 'Same as the system' }).isChecked()).toBe(true);
    await closeSettings();
  });

  it('a chosen theme applies at once, over the system one', async () => {
    await page.emulateMedia({ colorScheme: 'light' });
    await choose('Dark');
    expect(await background()).toBe(DARK_BG);
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).colorScheme)).toBe('dark');
    await settings().getByRole('radio', { name: 'Light' }).check();
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe(LIGHT_BG);
    await closeSettings();
  });

  it('after a reload the chosen theme is there from the first frame, and still chosen', async () => {
    await choose('Light');
    await closeSettings();
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.reload();
    await expect.poll(() => firstFrame(), SLOW).toBe(LIGHT_BG);
    expect(await background()).toBe(LIGHT_BG);
    await page.getByRole('button', { name: 'App settings' }).click();
    expect(await settings().getByRole('radio', { name: 'Light' }).isChecked()).toBe(true);

    await settings().getByRole('radio', { name: 'Same as the system' }).check();
    expect(await background()).toBe(DARK_BG);
    await page.reload();
    await expect.poll(() => firstFrame(), SLOW).toBe(DARK_BG);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await background()).toBe(LIGHT_BG);
  });
});
