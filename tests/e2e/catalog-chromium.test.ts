// Catalog jobs in a real browser: `firellava serve` on the tiny generated models, the built renderer
// in Debian Chromium. Photos dropped, a template chosen, the job run, a cell edited, a row
// regenerated, a CSV downloaded and parsed; several images dropped in the chat; a 10,000-row job scrolled.
import { mkdtempSync, rmSync } from 'node:fs';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractClient } from '../../electron/shared/client';
import { createHttpClient } from '../../electron/transport/http-client';
import { parseCsvWithPython, records } from '../catalog/catalog-helpers';
import { getFixtures } from '../helpers/fixtures';
import { makePng } from '../helpers/test-images';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

interface DropFile {
  name: string;
  type: string;
  bytes: number[];
}

const photo = (name: string, seed: number): DropFile => ({ name, type: 'image/png', bytes: [...makePng(28, 28, seed)] });

/** A synthetic drop with real File objects in its DataTransfer, as a file manager delivers them. */
async function dropFiles(target: Locator, files: DropFile[]): Promise<void> {
  await target.evaluate((el, files) => {
    const data = new DataTransfer();
    for (const f of files) data.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.type }));
    for (const type of ['dragover', 'drop']) el.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
  }, files);
}

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('catalog jobs in Chromium', () => {
  let served: Served;
  let browser: Browser;
  let page: Page;
  let tmp: string;
  let api: ContractClient;
  const problems: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    const fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-catalog-e2e-'));
    served = await startServer(fixtures.pair, path.join(tmp, 'data'));
    api = createHttpClient({ baseUrl: served.origin, apiKey: served.key });
    browser = await launchChromium(tmp);
    page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    // A truncated photo is refused by the upload (422) on purpose: it becomes an error row.
    page.on('console', (msg) => msg.type() === 'error' && !/status of 422/.test(msg.text()) && problems.push(`console: ${msg.text()}`));
  });

  afterAll(async () => {
    await browser?.close();
    if (served && served.child.exitCode === null) expect(await stopServer(served), served.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('drop photos, choose a template, run, edit a cell, regenerate a row, export a CSV', async () => {
    await page.goto(served.url);
    await expect.poll(() => page.getByRole('status').first().textContent(), { timeout: 30_000 }).toMatch(/^Ready/);
    await page.getByRole('button', { name: 'Catalog', exact: true }).click();
    const broken = { name: 'broken.png', type: 'image/png', bytes: [...makePng(28, 28, 700).subarray(0, 60)] };
    await dropFiles(page.getByRole('region', { name: 'Drop product photos here' }), [photo('mug.png', 11), photo('scarf.png', 22), broken]);
    await page.getByText('3 photos chosen').waitFor();
    await page.getByLabel('Template', { exact: true }).selectOption('alt-text');
    await page.getByRole('button', { name: 'Describe 3 photos' }).click();

    const status = page.getByRole('status', { name: 'Job status' });
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toMatch(/3 of 3 \(1 failed\) · done/);
    const grid = page.getByRole('grid', { name: 'Review products' });
    expect(await grid.getByRole('row').count()).toBe(4); // header + 3
    expect(await grid.getByText('broken.png').count()).toBe(1);

    // Keyboard: the first cell is active; down to the second row, Enter edits, Enter saves.
    await grid.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const editor = page.getByLabel('Edit Alt text');
    await editor.fill('A blue, "striped" wool scarf');
    await page.keyboard.press('Enter');
    await grid.getByText('A blue, "striped" wool scarf').waitFor();
    // Escape leaves a cell as it was.
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await page.getByLabel('Edit Alt text').fill('never saved');
    await page.keyboard.press('Escape');
    expect(await page.getByLabel('Edit Alt text').count()).toBe(0);
    expect(await grid.getByText('never saved').count()).toBe(0);

    const job = (await api.call('catalog.list', {})) as { ok: true; value: { id: string }[] };
    const before = await api.call('catalog.items', { jobId: job.value[0]!.id });
    if (!before.ok) throw new Error(before.error.message);
    const mug = before.value.find((i) => i.fileName === 'mug.png')!;
    await grid.getByRole('button', { name: 'Regenerate mug.png' }).click();
    await expect
      .poll(async () => {
        const r = await api.call('catalog.items', { jobId: job.value[0]!.id });
        const now = r.ok ? r.value.find((i) => i.id === mug.id)! : null;
        // Written again: saved after the row it had.
        return now?.status === 'done' && now.updatedAt > mug.updatedAt;
      }, { timeout: 30_000 })
      .toBe(true);
    await expect.poll(() => grid.getByRole('button', { name: 'Regenerate mug.png' }).isEnabled(), { timeout: 30_000 }).toBe(true);

    await page.getByLabel('Export format').selectOption('csv');
    await page.getByLabel('BOM (Excel)').check();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export', exact: true }).click()]);
    const file = path.join(tmp, 'export.csv');
    await download.saveAs(file);
    const rows = records(parseCsvWithPython(file));
    expect(rows.map((r) => r.File)).toEqual(['mug.png', 'scarf.png', 'broken.png']);
    expect(rows[1]!['Alt text']).toBe('A blue, "striped" wool scarf');
    expect(rows[2]!.Status).toBe('error');
    expect(rows[0]!.Status).toBe('done');
  });

  it('several images dropped in the chat are offered as a catalog job, not silently cut to one', async () => {
    await page.getByRole('button', { name: '← Back to chat' }).click();
    await dropFiles(page.locator('main'), [photo('a.png', 31), photo('b.png', 32), photo('c.png', 33), photo('d.png', 34)]);
    const offer = page.getByRole('group', { name: 'Several images' });
    await offer.getByText('4 images.').waitFor({ timeout: 10_000 });
    expect(await page.getByRole('list', { name: 'Images to send' }).count()).toBe(0);
    // The tiny model's 512-token context fits the one-field template, not Shopify's six fields.
    await offer.getByLabel('Catalog template').selectOption('alt-text');
    await offer.getByRole('button', { name: 'Describe each (catalog job)' }).click();
    const status = page.getByRole('status', { name: 'Job status' });
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toMatch(/4 of 4 · done/);
    expect(await page.getByRole('grid', { name: 'Review products' }).getByRole('row').count()).toBe(5);
  });

  it('a 10,000-row job renders only the rows on screen and scrolls without long frames', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => ({ name: `product-${String(i).padStart(5, '0')}.jpg`, error: `Row ${i}: ${'could not be read, '.repeat(12)}` }));
    const created = await api.call('catalog.create', { template: 'shopify', items, name: 'Ten thousand' });
    if (!created.ok) throw new Error(created.error.message);
    await page.goto(served.url);
    await page.getByRole('button', { name: 'Catalog', exact: true }).click();
    await page.getByRole('button', { name: /^Ten thousand/ }).click();
    const grid = page.getByRole('grid', { name: 'Review products' });
    await grid.getByText('product-00000.jpg').waitFor({ timeout: 30_000 });
    expect(await grid.getAttribute('aria-rowcount')).toBe('10001');
    // Only what fits in the window (plus a few rows either side) is in the DOM.
    expect(await grid.getByRole('row').count()).toBeLessThan(40);

    const timing = await grid.evaluate(async (el) => {
      const longTasks: number[] = [];
      const observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration)));
      observer.observe({ type: 'longtask', buffered: false });
      const frames: number[] = [];
      let last = performance.now();
      for (let i = 0; i < 300; i++) {
        el.scrollTop += 600; // six or seven rows a frame: a fast wheel
        await new Promise(requestAnimationFrame);
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      observer.disconnect();
      return { frames: frames.length, maxFrame: Math.max(...frames), p95: frames.sort((a, b) => a - b)[Math.floor(frames.length * 0.95)]!, longTasks, scrollTop: el.scrollTop };
    });
    console.log(`10,000-row grid scroll: ${timing.frames} frames, max ${timing.maxFrame.toFixed(1)} ms, p95 ${timing.p95.toFixed(1)} ms, long tasks ${JSON.stringify(timing.longTasks.map(Math.round))}`);
    expect(timing.scrollTop).toBe(180_000);
    expect(await grid.getByRole('row').count()).toBeLessThan(40);
    // What is on screen is the rows at that scroll position (92 px a row): ~1,956.
    await grid.getByText('product-01960.jpg').waitFor();
    // Rows that passed during the fast scroll were placeholders; once it stops, each shows its copy.
    await grid.getByText(/^Row 1960: could not be read/).waitFor({ timeout: 5_000 });
    await grid.getByText(/^Row 1956: could not be read/).waitFor({ timeout: 5_000 });
    expect(problems).toEqual([]);
  });
});
