// Issue #13 item 6 in Debian Chromium against `firellava serve` (tiny generated model): while a crop
// is drawn only the image outside it is dimmed, the dialog's buttons stay as they were and take
// clicks, and the crop can be made from the keyboard alone, down to the stored attachment.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const SLOW = { timeout: 30_000 };

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('crop in Chromium', () => {
  let fixtures: Fixtures;
  let served: Served | undefined;
  let browser: Browser;
  let page: Page;
  let tmp: string;

  const dialog = () => page.getByRole('dialog', { name: 'Crop and preview' });
  const selection = () => dialog().getByTestId('crop-selection');
  const sizes = () => page.getByRole('list', { name: 'Images to send' }).locator('.meta').allTextContents();

  async function pasteImage(name: string): Promise<void> {
    const bytes = [...readFileSync(fixtures.images.png64x48)];
    await page.getByLabel('Message', { exact: true }).evaluate(
      (target, { bytes, name }) => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
        target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      },
      { bytes, name },
    );
    await page.getByRole('img', { name: `Attached image ${name}` }).waitFor(SLOW);
  }

  /** The element a click at the centre of each action button would reach. */
  const hitButtons = (): Promise<string[]> =>
    dialog()
      .locator('.actions button')
      .evaluateAll((buttons) =>
        buttons.map((b) => {
          const r = b.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return hit === b ? 'button' : `${hit?.tagName}.${hit?.className}`;
        }),
      );

  beforeAll(async () => {
    ensureBuilt();
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-crop-e2e-'));
    served = await startServer(fixtures.pair, path.join(tmp, 'data'), ['--cpu']);
    browser = await launchChromium(tmp);
    page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.goto(served.url);
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor(SLOW);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopServer(served);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('dims only the image outside the crop; the buttons look the same and take clicks', async () => {
    await pasteImage('drawn.png');
    await page.getByRole('button', { name: 'Crop or preview drawn.png' }).click();
    const img = dialog().getByRole('img', { name: /Image to crop/ });
    await img.waitFor(SLOW);
    const close = dialog().getByRole('button', { name: 'Close' });
    const before = await close.screenshot();
    const headingBefore = await dialog().getByRole('heading', { name: 'What the model sees' }).screenshot();

    const box = (await img.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.25);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.75, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => dialog().getByText(/^Crop \d/).textContent()).toBe('Crop 32×24 of 64×48');

    // Nothing outside the image is shaded: same pixels as before the crop.
    expect((await close.screenshot()).equals(before)).toBe(true);
    expect((await dialog().getByRole('heading', { name: 'What the model sees' }).screenshot()).equals(headingBefore)).toBe(true);
    expect(await hitButtons()).toEqual(['button', 'button', 'button']);
    // Inside the image, outside the crop is darker than the same pixel inside it would be un-cropped.
    const shade = await page.screenshot({ clip: { x: box.x + 1, y: box.y + 1, width: 1, height: 1 } });
    await dialog().getByRole('button', { name: 'Reset' }).click();
    await expect.poll(() => dialog().getByText('no crop').count()).toBe(1);
    const clear = await page.screenshot({ clip: { x: box.x + 1, y: box.y + 1, width: 1, height: 1 } });
    expect(shade.equals(clear)).toBe(false);
    await close.click();
    await dialog().waitFor({ state: 'detached', ...SLOW });
    expect(await sizes()).toEqual(['64×48']);
    await page.getByRole('button', { name: 'Remove drawn.png' }).click();
  });

  it('crops from the keyboard: arrows move, Shift+arrows resize, Escape drops, Enter uses the crop', async () => {
    await pasteImage('keys.png');
    await page.getByRole('button', { name: 'Crop or preview keys.png' }).click();
    await selection().waitFor(SLOW);
    expect(await selection().getAttribute('aria-label')).toBe('Crop: the whole image');
    expect(await selection().getAttribute('aria-describedby')).toBeTruthy();
    await selection().focus();
    // Steps are 5% of the image: 3 px across, 2 px down on 64×48.
    const keys = async (): Promise<void> => {
      for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+ArrowLeft');
      for (let i = 0; i < 6; i++) await page.keyboard.press('Shift+ArrowUp');
      for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowRight');
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    };
    await keys();
    expect(await dialog().getByText(/^Crop \d/).textContent()).toBe('Crop 52×36 of 64×48');
    expect(await selection().getAttribute('aria-label')).toBe('Crop 52 by 36 at 6, 6');

    await page.keyboard.press('Escape');
    expect(await dialog().getByText('no crop').count()).toBe(1);
    expect(await dialog().isVisible()).toBe(true);

    await keys();
    await page.keyboard.press('Enter');
    await dialog().waitFor({ state: 'detached', ...SLOW });
    await expect.poll(() => sizes(), SLOW).toEqual(['52×36']);

    // The stored attachment is that part of the original: its pixels are closest to the original's
    // at (6, 6), not one step off (colour conversion on the way leaves small differences).
    await page.getByLabel('Message', { exact: true }).fill('What is this?');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    const stored = page.locator('article.user').getByRole('img').first();
    await stored.waitFor(SLOW);
    const original = [...readFileSync(fixtures.images.png64x48)];
    const offsets = [
      [6, 6],
      [3, 6],
      [9, 6],
      [6, 4],
      [6, 8],
    ];
    const measured = await stored.evaluate(
      async (el: HTMLImageElement, { original, offsets }) => {
        await el.decode();
        const pixels = (source: CanvasImageSource, w: number, h: number, x: number, y: number, cw: number, ch: number): Uint8ClampedArray => {
          const c = document.createElement('canvas');
          c.width = w;
          c.height = h;
          const ctx = c.getContext('2d')!;
          ctx.drawImage(source, 0, 0);
          return ctx.getImageData(x, y, cw, ch).data;
        };
        const whole = await createImageBitmap(new Blob([new Uint8Array(original)], { type: 'image/png' }));
        const w = el.naturalWidth;
        const h = el.naturalHeight;
        const cut = pixels(el, w, h, 0, 0, w, h);
        const meanDiff = ([x, y]: number[]): number => {
          const from = pixels(whole, 64, 48, x!, y!, w, h);
          let sum = 0;
          for (let i = 0; i < cut.length; i++) sum += Math.abs(cut[i]! - from[i]!);
          return sum / cut.length;
        };
        return { width: w, height: h, diffs: offsets.map(meanDiff) };
      },
      { original, offsets },
    );
    expect([measured.width, measured.height]).toEqual([52, 36]);
    const [atCrop, ...offByOne] = measured.diffs;
    expect(atCrop, JSON.stringify(measured.diffs)).toBeLessThan(Math.min(...offByOne));
    expect(atCrop).toBeLessThan(2.5);
  });
});
