// Catalog jobs on the real engine (tiny random-weight LLaVA): one constrained generation per
// photo, error rows for broken files, exports a real CSV parser reads back, limits, progress,
// pause/resume/cancel, and a killed engine worker.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { exportItems, SHOPIFY_COLUMNS, WOOCOMMERCE_COLUMNS } from '../../electron/catalog/catalog-export';
import { expandSources } from '../../electron/catalog/catalog-files';
import { parseNotesCsv } from '../../electron/catalog/catalog-notes';
import { CatalogService } from '../../electron/catalog/catalog-service';
import { CatalogStore } from '../../electron/catalog/catalog-store';
import { findTemplate, limitOf } from '../../electron/catalog/catalog-templates';
import type { Engine, GenerateRequest } from '../../electron/engine/engine';
import type { LocalEngine } from '../../electron/engine/engine-host';
import type { CatalogJobView, CatalogTemplate } from '../../electron/shared/contracts/catalog';
import { HistoryStore } from '../../electron/store/history-store';
import { writeLongContextPair } from '../api/api-helpers';
import { startEngine, wrapGenerate } from '../helpers/engine';
import { makePng } from '../helpers/test-images';
import { BROKEN, codePoints, parseCsvWithPython, records, TRICKY, writeNotesCsv, writePhotoFolder } from './catalog-helpers';

const SMALL: CatalogTemplate = { ...findTemplate('custom'), limits: { title: 24, shortDescription: 40, altText: 30 } };

describe('catalog jobs on the real engine', () => {
  let tmp: string;
  let engine: LocalEngine;
  let history: HistoryStore;
  let attachments: AttachmentStore;

  /** The real engine behind a hook on each request and its events. */
  const tapped = (tap: (req: GenerateRequest, event: { type: string; phase?: string }) => void, edit?: (req: GenerateRequest) => GenerateRequest): Engine =>
    wrapGenerate(engine, (req, onEvent, signal) => {
      const r = edit ? edit(req) : req;
      return engine.generate(r, (e) => {
        tap(r, e);
        onEvent(e);
      }, signal);
    });
  const service = (e: Engine = engine): CatalogService => new CatalogService({ store: new CatalogStore(history.db), engine: e, attachments, params: { seed: 3 } });
  const photos = async (svc: CatalogService, n: number, seed: number): ReturnType<CatalogService['importFiles']> =>
    Promise.all(Array.from({ length: n }, (_, i) => svc.importBytes(`item-${seed}-${i}.png`, makePng(28, 28, seed * 31 + i), {})));

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-catalog-'));
    engine = startEngine();
    const loaded = await engine.load(await writeLongContextPair(path.join(tmp, 'model')));
    expect(loaded.ok).toBe(true);
    history = HistoryStore.open(path.join(tmp, 'data', 'history.sqlite'));
    attachments = createAttachmentStore(path.join(tmp, 'data'));
  }, 60_000);

  afterAll(async () => {
    history?.close();
    await engine?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a 20-photo folder with 2 broken files gives 18 rows and 2 error rows; every export parses back with every column', async () => {
    const dir = path.join(tmp, 'folder');
    const { good } = writePhotoFolder(dir, 20);
    const notesFile = path.join(tmp, 'notes.csv');
    writeNotesCsv(notesFile, good);
    const svc = service();
    const files = await expandSources([dir]);
    expect(files).toHaveLength(20);
    const { job } = svc.create({ name: 'Spring, "new" 2026', template: findTemplate('shopify'), items: await svc.importFiles(files, parseNotesCsv(readFileSync(notesFile, 'utf8'))) });
    await svc.whenIdle(job.id);

    const items = svc.store.items(job.id);
    expect(svc.view(job.id).state).toBe('done');
    expect(items.filter((i) => i.status === 'done').map((i) => i.fileName)).toEqual(good);
    const errors = items.filter((i) => i.status === 'error');
    expect(errors.map((i) => i.fileName).sort()).toEqual([...BROKEN].sort());
    for (const e of errors) expect(e.error).toMatch(/truncated|not a supported image/i);
    // One generation per photo; the attachment is the photo, stored once.
    expect(new Set(items.filter((i) => i.status === 'done').map((i) => i.attachmentId)).size).toBe(18);
    for (const it of items.filter((i) => i.status === 'done')) {
      expect(it.attempts).toBe(1);
      for (const f of job.template.fields) expect(it.values[f], `${it.fileName} ${f}`).toBeTruthy();
      expect(it.notes).toMatchObject({ Brand: TRICKY.brand, Care: TRICKY.care });
    }

    const write = (format: 'shopify' | 'woocommerce' | 'csv', bom = false): Record<string, string>[] => {
      const file = exportItems(svc.view(job.id), items, { format, bom });
      const out = path.join(tmp, file.fileName);
      writeFileSync(out, file.text);
      return records(parseCsvWithPython(out));
    };

    const shopify = write('shopify', true);
    expect(shopify).toHaveLength(18);
    for (const [i, row] of shopify.entries()) {
      const it = items.filter((x) => x.status === 'done')[i]!;
      expect(Object.keys(row)).toEqual([...SHOPIFY_COLUMNS]);
      expect(row).toMatchObject({ Title: it.values.title, Tags: it.values.tags, Vendor: TRICKY.brand, 'Image Src': it.fileName, 'Image Alt Text': it.values.altText, 'SEO Title': it.values.seoTitle, 'SEO Description': it.values.seoDescription });
      expect(row.Handle).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(row['Body (HTML)']).toMatch(/^<p>/);
      expect(row['Body (HTML)']).not.toMatch(/<(?!\/?(p|br|ul|li)>)/);
    }
    expect(new Set(shopify.map((r) => r.Handle)).size).toBe(18);

    const woo = write('woocommerce');
    expect(woo).toHaveLength(18);
    expect(Object.keys(woo[0]!)).toEqual([...WOOCOMMERCE_COLUMNS]);
    expect(woo.map((r) => r.Images)).toEqual(good);
    expect(woo.map((r) => r.SKU)).toEqual(good.map((_, i) => `SKU-${i + 1}`));

    const generic = write('csv');
    expect(generic).toHaveLength(20);
    expect(Object.keys(generic[0]!)).toEqual(['File', 'Status', 'Error', 'Title', 'Description', 'Tags', 'Alt text', 'SEO title', 'SEO description', 'Brand', 'Material', 'Care', 'Origin', 'SKU', 'Price', 'Flags', 'Approved']);
    for (const [i, row] of generic.entries()) {
      const it = items[i]!;
      expect(row.File).toBe(it.fileName);
      expect(row.Status).toBe(it.status);
      if (it.status === 'error') continue;
      // Commas, quotes, newlines and non-Latin text survive the round trip, model text included.
      expect(row).toMatchObject({ Brand: TRICKY.brand, Material: TRICKY.material, Care: TRICKY.care, Origin: TRICKY.origin, Description: it.values.longDescription, Title: it.values.title });
    }

    const jsonl = exportItems(svc.view(job.id), items, { format: 'jsonl' }).text.trim().split('\n').map((l) => JSON.parse(l) as { file: string; fields: { tags: string[] | null } });
    expect(jsonl.map((l) => l.file)).toEqual(items.map((i) => i.fileName));
    const firstDone = jsonl.find((l) => l.file === good[0])!;
    expect(firstDone.fields.tags!.length).toBeGreaterThanOrEqual(3);
    expect(jsonl.find((l) => l.file === BROKEN[0])!.fields.tags).toBeNull();
  }, 180_000);

  it('every field stays within its limit; an answer over it is generated once more, then flagged', async () => {
    const svc = service();
    const { job } = svc.create({ name: 'limits', template: SMALL, items: await photos(svc, 6, 1) });
    await svc.whenIdle(job.id);
    for (const it of svc.store.items(job.id)) {
      expect(it.status).toBe('done');
      for (const f of SMALL.fields) expect(codePoints(it.values[f]!), `${f}: ${it.values[f]}`).toBeLessThanOrEqual(limitOf(svc.view(job.id).template, f));
    }

    // An engine that lets answers run past the limit (a schema three times as long): the runner
    // itself must catch it, regenerate once and then flag the field.
    const loose = tapped(
      () => undefined,
      (req) => {
        const schema = structuredClone((req.responseFormat as unknown as { schema: { properties: Record<string, { maxLength: number }> } }).schema);
        for (const p of Object.values(schema.properties)) p.maxLength *= 3;
        return { ...req, params: { ...req.params, maxTokens: req.params.maxTokens * 3 }, responseFormat: { type: 'json_schema', schema } };
      },
    );
    const over = service(loose);
    const t: CatalogTemplate = { ...SMALL, fields: ['altText'], limits: { altText: 12 } };
    const { job: j2 } = over.create({ name: 'over', template: t, items: await photos(over, 3, 2) });
    await over.whenIdle(j2.id);
    const rows = over.store.items(j2.id);
    const flagged = rows.filter((r) => r.flags.length > 0);
    expect(flagged.length).toBeGreaterThan(0);
    for (const r of flagged) {
      expect(r.status).toBe('done');
      expect(r.flags[0]).toMatch(/^altText: \d+ of 12 characters$/);
    }
    // A flagged row was generated twice, no row more than twice.
    expect(over.stats.generations).toBeGreaterThanOrEqual(rows.length + flagged.length);
    expect(over.stats.generations).toBeLessThanOrEqual(rows.length * 2);
  }, 120_000);

  it('shows n of N, phases and an ETA; pause keeps the rest queued, resume finishes them, cancel stops', async () => {
    const svc = service();
    const seen: CatalogJobView[] = [];
    svc.onEvent((e) => e.type === 'job' && seen.push(e.job));
    const { job } = svc.create({ name: 'pause', template: SMALL, items: await photos(svc, 5, 3) });
    const off = svc.onEvent((e) => {
      if (e.type === 'item' && e.item.status === 'done') svc.pause(job.id);
    });
    await svc.whenIdle(job.id);
    off();
    let view = svc.view(job.id);
    expect(view.state).toBe('paused');
    expect(view.progress).toMatchObject({ total: 5, done: 1, running: [] });
    expect(svc.store.counts(job.id).pending).toBe(4);
    expect(seen.some((v) => v.progress.running.some((r) => r.phase === 'generating'))).toBe(true);
    expect(seen.some((v) => v.progress.running.some((r) => r.phase === 'validating'))).toBe(true);
    const timed = seen.find((v) => v.progress.done === 1 && v.progress.etaSeconds !== null)!;
    expect(timed.progress.msPerItem).toBeGreaterThan(0);

    svc.start(job.id);
    await svc.whenIdle(job.id);
    view = svc.view(job.id);
    expect(view.state).toBe('done');
    expect(view.progress.done).toBe(5);
    expect(svc.store.items(job.id).every((i) => i.attempts === 1)).toBe(true);

    const { job: j2 } = svc.create({ name: 'cancel', template: SMALL, items: await photos(svc, 5, 4) });
    const off2 = svc.onEvent((e) => {
      if (e.type === 'item' && e.item.status === 'done' && e.item.jobId === j2.id) void svc.cancel(j2.id);
    });
    await svc.whenIdle(j2.id);
    off2();
    view = svc.view(j2.id);
    expect(view.state).toBe('cancelled');
    expect(view.progress.done).toBeLessThan(5);
    expect(svc.store.counts(j2.id)).toMatchObject({ running: 0, error: 0 });
  }, 120_000);

  it('the same photo twice is one item', async () => {
    const svc = service();
    const png = makePng(28, 28, 99);
    const items = [await svc.importBytes('a.png', png, {}), await svc.importBytes('copy of a.png', png, {}), await svc.importBytes('b.png', makePng(28, 28, 98), {})];
    const { job, duplicates } = svc.create({ name: 'dup', template: SMALL, items, start: false });
    expect(duplicates).toEqual(['copy of a.png']);
    expect(svc.store.items(job.id).map((i) => i.fileName)).toEqual(['a.png', 'b.png']);
  });

  it('an item in flight at two crashes of the whole process becomes an error row instead of a crash loop', async () => {
    const first = service();
    const { job } = first.create({ name: 'loop', template: SMALL, items: await photos(first, 2, 6), start: false });
    const [poison, other] = first.store.items(job.id);
    // Two processes that died while describing the same photo (attempts are counted before the engine is asked).
    first.store.markRunning(poison!.id);
    expect(service().store.item(poison!.id).status).toBe('pending');
    first.store.markRunning(poison!.id);
    const third = service();
    expect(third.store.item(poison!.id)).toMatchObject({ status: 'error', attempts: 2, error: expect.stringMatching(/stopped twice/) });
    expect(third.store.item(other!.id).status).toBe('pending');
  });

  it('a regeneration cut short by the death of the process is finished at the next start', async () => {
    const first = service();
    const { job } = first.create({ name: 'regen died', template: SMALL, items: await photos(first, 2, 8) });
    await first.whenIdle(job.id);
    expect(first.view(job.id).state).toBe('done');
    const [row] = first.store.items(job.id);
    // The regeneration had started (marked before the engine is asked) when the process died.
    expect(first.store.markRunning(row!.id).attempts).toBe(1);

    const next = service();
    expect(next.view(job.id).state).toBe('running');
    next.resumeUnfinished();
    await next.whenIdle(job.id);
    expect(next.view(job.id).state).toBe('done');
    expect(next.store.item(row!.id)).toMatchObject({ status: 'done', attempts: 2 });
    expect(next.store.item(row!.id).values.title).toBeTruthy();
  }, 60_000);

  it('a killed engine worker fails only its item: retried once, then an error row; the job goes on', async () => {
    let store: CatalogStore | null = null;
    const kills = new Map<string, number>();
    const killFor: Record<string, number> = { 'item-5-1.png': 1, 'item-5-2.png': 2 };
    const killer = tapped((req, e) => {
      if (e.type !== 'phase' || e.phase !== 'generating') return;
      const name = store!.item(Number(req.conversationId.split('-').pop())).fileName;
      const n = kills.get(name) ?? 0;
      if (n < (killFor[name] ?? 0)) {
        kills.set(name, n + 1);
        process.kill(engine.workerPid()!, 'SIGKILL');
      }
    });
    const svc = service(killer);
    store = svc.store;
    // A long field: the kill at the first token lands long before the answer could end.
    const long: CatalogTemplate = { ...SMALL, fields: ['longDescription'], limits: { longDescription: 1200 } };
    const { job } = svc.create({ name: 'crash', template: long, items: await photos(svc, 4, 5) });
    await svc.whenIdle(job.id);
    const byName = Object.fromEntries(svc.store.items(job.id).map((i) => [i.fileName, i]));
    expect(kills.get('item-5-1.png')).toBe(1);
    expect(kills.get('item-5-2.png')).toBe(2);
    expect(byName['item-5-1.png']).toMatchObject({ status: 'done', attempts: 2 });
    expect(byName['item-5-2.png']).toMatchObject({ status: 'error', attempts: 2 });
    expect(byName['item-5-2.png']!.error).toMatch(/stopped twice/);
    expect(byName['item-5-0.png']).toMatchObject({ status: 'done', attempts: 1 });
    expect(byName['item-5-3.png']).toMatchObject({ status: 'done', attempts: 1 });
    expect(svc.view(job.id).state).toBe('done');
  }, 120_000);
});
