// The catalog review grid at catalog scale: the built renderer in Debian Chromium on a scripted
// backend holding one finished job of N photos (thumbnails as the attachment store makes them, copy
// at the Shopify template's default lengths), scrolled top to bottom by a mouse-wheel gesture at a
// steady speed while the page records every animation frame. Returns a Markdown table.
import os from 'node:os';
import type * as Playwright from 'playwright-core';
import { reencodeImage } from '../electron/attachments/attachment-store';
import { BUILTIN_TEMPLATES, DEFAULT_LIMITS } from '../electron/catalog/catalog-templates';
import { encodePng, gradientPixels } from '../electron/fixtures/png';
import type { CatalogItemView, CatalogJobView, CatalogTemplate } from '../electron/shared/contracts/catalog';
import type { EngineList } from '../electron/shared/contracts/engines';
import { ELECTRON_ATTACHMENT_SCHEME } from '../renderer/src/lib/attachment-url';
import { SCRIPTED_ENGINES, SCRIPTED_STATUS, frameTable, measureMainThread, recordFrames, withScriptedPage } from './chromium-page';

export interface CatalogGridBenchOptions {
  rendererDir: string;
  items?: number;
  /** Scroll speed of the wheel gesture, px/s. */
  pxPerSecond?: number;
  /** A second, slower gesture over part of the grid: below the speed at which rows enter as placeholders. */
  slowPxPerSecond?: number;
  slowDistance?: number;
  chromium?: string;
}

/** Distinct thumbnail images; every item still has its own URL, so each is fetched and decoded. */
const THUMBNAILS = 24;

interface GridScript {
  items: number;
  template: CatalogTemplate;
  limits: Record<string, number>;
  engines: EngineList;
  status: typeof SCRIPTED_STATUS;
  /** Typed shells the page fills in: a contract change the script must follow fails tsc here. */
  job: CatalogJobView;
  item: CatalogItemView;
}

/** Runs in the page before the app: a ContractClient holding one finished catalog job. */
function installCatalogClient(s: GridScript): void {
  const words = ['hand-thrown', 'stoneware', 'mug', 'with', 'a', 'deep', 'cobalt', 'glaze,', 'glossy', 'finish', 'and', 'a', 'comfortable', 'handle.', 'Dishwasher', 'safe;', 'holds', '350 ml.'];
  let seed = 1;
  const text = (chars: number): string => {
    let out = '';
    while (out.length < chars - 12) out += `${words[seed++ % words.length]} `;
    return out.trim();
  };
  const copy = (field: string): string => {
    const limit = s.limits[field]!;
    if (field === 'tags') return Array.from({ length: 8 }, (_, i) => words[(seed + i) % words.length]!.replace(/[,.;]/g, '')).join(', ');
    if (field === 'bullets') return Array.from({ length: 5 }, () => text(limit)).join('\n');
    if (field === 'longDescription') return `${text(limit / 2)}\n\n${text(limit / 2)}`;
    return text(limit);
  };
  const items = Array.from({ length: s.items }, (_, i) => ({
    ...s.item,
    id: i + 1,
    position: i,
    fileName: `product-${String(i).padStart(5, '0')}.jpg`,
    attachmentId: (i + 1).toString(16).padStart(64, '0'),
    values: Object.fromEntries(s.template.fields.map((f) => [f, copy(f)])),
    approved: i % 3 === 0,
  }));
  const job = { ...s.job, progress: { ...s.job.progress, total: s.items, done: s.items } };
  const w = window as unknown as Record<string, unknown>;
  w.api = {
    call: async (name: string) => {
      if (name === 'catalog.templates') return { ok: true, value: [s.template] };
      if (name === 'catalog.list') return { ok: true, value: [job] };
      if (name === 'catalog.items') return { ok: true, value: items };
      if (name === 'engine.status') return { ok: true, value: s.status };
      if (name === 'engines.list') return { ok: true, value: s.engines };
      return { ok: true, value: [] };
    },
    stream: (name: string, _input: unknown, onEvent: (e: unknown) => void) => {
      let cancel = (): void => {};
      const done = new Promise((resolve) => {
        // Later, as a real transport delivers: an event inside stream() would run in the caller's effect.
        setTimeout(() => {
          if (name === 'engine.watch') onEvent(s.status);
          if (name === 'catalog.watch') onEvent({ type: 'job', job });
        });
        cancel = () => resolve({ ok: false, error: { code: 'CANCELLED', message: 'Cancelled' } });
      });
      return { cancel: () => cancel(), done };
    },
  };
}

/** JPEG thumbnails made the way the attachment store makes them (from 336 px photos). */
async function thumbnails(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < THUMBNAILS; i++) out.push((await reencodeImage(encodePng(336, 336, gradientPixels(336, 336, (i * 37) % 256)))).thumbnail);
  return out;
}

async function serveThumbnails(page: Playwright.Page): Promise<{ served: () => number }> {
  const images = await thumbnails();
  let served = 0;
  await page.route(new RegExp(`^${ELECTRON_ATTACHMENT_SCHEME}:`), (route) => {
    const id = /image\/([0-9a-f]{64})/.exec(route.request().url())?.[1];
    if (!id) return route.fulfill({ status: 404 });
    served++;
    return route.fulfill({ status: 200, contentType: 'image/jpeg', body: images[parseInt(id.slice(-8), 16) % images.length] });
  });
  return { served: () => served };
}

/** Scrolls the element under `box` down (to the bottom, or `limit` px) with the browser's own wheel gesture (steady speed, not paced by round trips to this process). */
async function scrollThrough(page: Playwright.Page, selector: string, speed: number, limit = Infinity): Promise<{ frames: number[]; mainThread: string; wallMs: number; distance: number }> {
  const el = page.locator(selector);
  const box = (await el.boundingBox())!;
  const from = await el.evaluate((e) => e.scrollTop);
  const distance = Math.min(limit, (await el.evaluate((e) => e.scrollHeight - e.clientHeight)) - from);
  const stopFrames = await recordFrames(page);
  const mainThread = await measureMainThread(page);
  const started = Date.now();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Input.synthesizeScrollGesture', { x: box.x + box.width / 2, y: box.y + box.height / 2, yDistance: -distance, speed, gestureSourceType: 'mouse' });
  await el.evaluate((e, d) => new Promise<void>((resolve) => (function check() { return e.scrollTop >= d - 1 ? resolve() : requestAnimationFrame(check); })()), from + distance);
  const wallMs = Date.now() - started;
  const spent = await mainThread();
  const frames = await stopFrames();
  await cdp.detach();
  return { frames, mainThread: spent, wallMs, distance };
}

export async function catalogGridBench(options: CatalogGridBenchOptions): Promise<string> {
  const count = options.items ?? 2000;
  const speed = options.pxPerSecond ?? 4000;
  const slow = options.slowPxPerSecond ?? 1000;
  const slowDistance = options.slowDistance ?? 20_000;
  const template = BUILTIN_TEMPLATES.find((t) => t.id === 'shopify')!;
  const now = Date.now();
  const script: GridScript = {
    items: count,
    template,
    limits: { ...DEFAULT_LIMITS, ...template.limits },
    engines: SCRIPTED_ENGINES,
    status: SCRIPTED_STATUS,
    job: { id: 'bench', name: 'Bench catalog', template, state: 'done', createdAt: now, updatedAt: now, progress: { total: 0, done: 0, failed: 0, running: [], msPerItem: null, etaSeconds: null, notice: null } },
    item: { id: 0, jobId: 'bench', position: 0, fileName: '', attachmentId: null, notes: {}, status: 'done', values: {}, flags: [], error: null, approved: false, attempts: 1, ms: 4000, updatedAt: now },
  };
  return withScriptedPage('Review grid bench', { ...options, viewport: { width: 1400, height: 900 }, install: (page) => page.addInitScript(installCatalogClient, script) }, async (page) => {
    const thumbs = await serveThumbnails(page);
    await page.getByRole('button', { name: 'Catalog', exact: true }).click();
    await page.getByRole('button', { name: /^Bench catalog/ }).click();
    const grid = page.getByRole('grid', { name: 'Review products' });
    await grid.getByText('product-00000.jpg').waitFor({ timeout: 60_000 });

    // What this machine allows at all: an empty scroller of the grid's size and height, laid over it.
    await grid.evaluate((g) => {
      const r = g.getBoundingClientRect();
      const empty = Object.assign(document.createElement('div'), { id: 'bench-empty' });
      Object.assign(empty.style, { position: 'fixed', left: `${r.left}px`, top: `${r.top}px`, width: `${r.width}px`, height: `${r.height}px`, overflow: 'auto', zIndex: '10', background: 'white' });
      empty.appendChild(document.createElement('div')).style.height = `${g.scrollHeight}px`;
      document.body.appendChild(empty);
    });
    const floor = await scrollThrough(page, '#bench-empty', speed);
    await page.evaluate(() => document.getElementById('bench-empty')!.remove());
    await page.waitForTimeout(500); // the first screen's thumbnails, so the scroll starts from a settled page

    // Slow first, from the top: every row entering is filled with its copy and thumbnail as it comes.
    const slowRun = await scrollThrough(page, '[role=grid]', slow, slowDistance);
    const slowThumbs = thumbs.served();
    await grid.evaluate((g) => (g.scrollTop = 0));
    await page.waitForTimeout(500);
    const run = await scrollThrough(page, '[role=grid]', speed);
    const rows = await grid.getByRole('row').count();
    await grid.getByText(`product-${String(count - 1).padStart(5, '0')}.jpg`).waitFor();
    return [
      `Review grid: ${count.toLocaleString('en')} catalog rows (Shopify fields, thumbnails) scrolled top to bottom by a mouse-wheel gesture at ${speed.toLocaleString('en')} px/s (headless Chromium, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}): ${(run.distance / 1000).toFixed(0)}k px in ${(run.wallMs / 1000).toFixed(1)} s, ${thumbs.served() - slowThumbs} thumbnails fetched, ${rows} rows in the DOM at the end. Slow row: the first ${(slowRun.distance / 1000).toFixed(0)}k px at ${slow.toLocaleString('en')} px/s (below the placeholder speed), ${slowThumbs} thumbnails fetched.`,
      '',
      frameTable(
        [
          { label: `review grid, ${speed.toLocaleString('en')} px/s`, ...run },
          { label: `review grid, ${slow.toLocaleString('en')} px/s (rows filled as they enter)`, ...slowRun },
          { label: 'empty scroller, same size (this machine now)', ...floor },
        ],
        'scrolled',
      ),
    ].join('\n');
  });
}
