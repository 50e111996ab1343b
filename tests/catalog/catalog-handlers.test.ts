// The catalog calls a renderer drives, through the real backend and dispatcher on the real engine:
// create from uploads or a dialog pick, watch, edit, approve, regenerate a field, export to each
// target; a job cut short by a closing app resumes in the next one.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import type { FileDialogs } from '../../electron/backend/catalog-handlers';
import { CatalogStore } from '../../electron/catalog/catalog-store';
import { HistoryStore } from '../../electron/store/history-store';
import type { LocalEngine } from '../../electron/engine/engine-host';
import type { CatalogEvent, CatalogExport, CatalogItemView, CatalogJobView, CatalogPick } from '../../electron/shared/contracts/catalog';
import type { RequestContext } from '../../electron/shared/dispatcher';
import { writeLongContextPair } from '../api/api-helpers';
import { startEngine } from '../helpers/engine';
import { makePng } from '../helpers/test-images';
import { parseCsvWithPython, records } from './catalog-helpers';

const CTX: RequestContext = { transport: 'electron' };
const SMALL = { id: 'custom', name: 'Small', fields: ['title', 'altText'], tone: 'plain', language: 'English', limits: { title: 20, altText: 30 }, instructions: '' };

describe('catalog calls', () => {
  let tmp: string;
  let engine: LocalEngine;
  let backend: Backend;
  const chosen: { open: string[] | null; save: string | null } = { open: null, save: null };
  const dialogs: FileDialogs = { openImages: async () => chosen.open, saveFile: async () => chosen.save };

  const call = async <T>(b: Backend, name: string, input: unknown): Promise<T> => {
    const r = await b.dispatcher.call(name, input, CTX);
    if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
    return r.value as T;
  };
  const upload = async (b: Backend, seed: number): Promise<string> => (await b.attachments.add(makePng(28, 28, seed))).id;
  const until = async (b: Backend, jobId: string, done: (j: CatalogJobView) => boolean): Promise<CatalogJobView> => {
    for (let i = 0; i < 600; i++) {
      const job = (await call<CatalogJobView[]>(b, 'catalog.list', {})).find((j) => j.id === jobId)!;
      if (done(job)) return job;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('timed out');
  };

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-catalog-calls-'));
    engine = startEngine();
    expect((await engine.load(await writeLongContextPair(path.join(tmp, 'model')))).ok).toBe(true);
    backend = createBackend({ dataDir: path.join(tmp, 'data'), engine, dialogs, app: { name: 'FireLLaVA', version: 'test' } });
  }, 60_000);

  afterAll(async () => {
    await backend?.close();
    await engine?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('create from uploads, watch, edit, approve, regenerate one field, export', async () => {
    const events: CatalogEvent[] = [];
    const ac = new AbortController();
    const watching = backend.dispatcher.stream('catalog.watch', {}, { emit: (e) => events.push(e as CatalogEvent), signal: ac.signal, ctx: CTX });
    const items = [
      { name: 'mug, blue.png', attachmentId: await upload(backend, 1) },
      { name: 'lamp.png', attachmentId: await upload(backend, 2) },
      { name: 'scan.tif', error: 'This file is not a supported image.' },
    ];
    const notesCsv = 'file,Brand,SKU\n"mug, blue.png","Acme ""Pro""",M-1\nlamp.png,Lumo,L-2\n';
    const { job } = await call<{ job: CatalogJobView }>(backend, 'catalog.create', { name: 'Shop', template: SMALL, items, notesCsv });
    const done = await until(backend, job.id, (j) => j.state === 'done');
    expect(done.progress).toMatchObject({ total: 3, done: 2, failed: 1 });
    expect(events.filter((e) => e.type === 'item' && e.item.status === 'done')).toHaveLength(2);
    expect(events.some((e) => e.type === 'job' && e.job.id === job.id && e.job.progress.running.length > 0)).toBe(true);

    let rows = await call<CatalogItemView[]>(backend, 'catalog.items', { jobId: job.id });
    expect(rows.map((r) => [r.fileName, r.status, r.notes.SKU ?? null])).toEqual([
      ['mug, blue.png', 'done', 'M-1'],
      ['lamp.png', 'done', 'L-2'],
      ['scan.tif', 'error', null],
    ]);
    const [mug, lamp] = rows;
    // An edit is saved as typed; over the limit it is flagged, not cut.
    const long = 'x'.repeat(25);
    const edited = await call<CatalogItemView>(backend, 'catalog.updateItem', { itemId: mug!.id, field: 'title', value: long });
    expect(edited.values.title).toBe(long);
    expect(edited.flags).toEqual(['title: longer than 20 characters']);
    const fixed = await call<CatalogItemView>(backend, 'catalog.updateItem', { itemId: mug!.id, field: 'title', value: 'Blue mug <b>&</b> "co"' .slice(0, 20) });
    expect(fixed.flags).toEqual([]);
    const bad = await backend.dispatcher.call('catalog.updateItem', { itemId: mug!.id, field: 'bullets', value: 'x' }, CTX);
    expect(!bad.ok && bad.error.message).toMatch(/no bullets field/);

    // Regenerating one field keeps the others.
    const again = await call<CatalogItemView>(backend, 'catalog.regenerate', { itemId: lamp!.id, field: 'altText' });
    expect(again.values.title).toBe(lamp!.values.title);
    expect(again.values.altText).toBeTruthy();
    // A regeneration counts its own generations (a crash in it still gets one retry).
    expect(again.attempts).toBe(1);

    await call(backend, 'catalog.approve', { itemIds: [mug!.id] });
    const approved = await call<CatalogExport>(backend, 'catalog.export', { jobId: job.id, format: 'csv', approvedOnly: true });
    const file = path.join(tmp, approved.fileName);
    writeFileSync(file, approved.data!);
    expect(records(parseCsvWithPython(file))).toEqual([
      { File: 'mug, blue.png', Status: 'done', Error: '', Title: fixed.values.title, 'Alt text': mug!.values.altText, Brand: 'Acme "Pro"', SKU: 'M-1', Flags: '', Approved: 'yes' },
    ]);
    expect(readFileSync(file, 'utf8')).toContain('"Blue mug <b>&</b> ""c"');

    // The shop's Body (HTML) never carries the typed markup as markup.
    await call(backend, 'catalog.updateItem', { itemId: mug!.id, field: 'title', value: 'ok' });
    const shopify = await call<CatalogExport>(backend, 'catalog.export', { jobId: job.id, format: 'shopify', to: 'data-dir' });
    expect(shopify.savedTo!.startsWith(path.join(tmp, 'data', 'exports'))).toBe(true);
    expect(records(parseCsvWithPython(shopify.savedTo!)).map((r) => r['Image Src'])).toEqual(['mug, blue.png', 'lamp.png']);

    chosen.save = path.join(tmp, 'chosen.jsonl');
    const saved = await call<CatalogExport>(backend, 'catalog.export', { jobId: job.id, format: 'jsonl', to: 'dialog' });
    expect(saved).toMatchObject({ savedTo: chosen.save, data: null, cancelled: false, rows: 3 });
    expect(readFileSync(chosen.save, 'utf8').trim().split('\n')).toHaveLength(3);
    chosen.save = null;
    expect(await call<CatalogExport>(backend, 'catalog.export', { jobId: job.id, format: 'md', to: 'dialog' })).toMatchObject({ cancelled: true, savedTo: null });

    ac.abort();
    await watching;
  }, 120_000);

  it('a dialog pick is the only way to name files; headless there is no dialog', async () => {
    const dir = path.join(tmp, 'picked');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a.png'), makePng(28, 28, 40));
    writeFileSync(path.join(dir, 'b.png'), makePng(28, 28, 41));
    writeFileSync(path.join(dir, 'readme.txt'), 'not a photo');
    chosen.open = [dir];
    const pick = await call<CatalogPick>(backend, 'catalog.pick', { kind: 'folder' });
    expect(pick.files).toEqual(['a.png', 'b.png']);
    const { job } = await call<{ job: CatalogJobView }>(backend, 'catalog.create', { template: 'alt-text', pickId: pick.pickId });
    expect((await until(backend, job.id, (j) => j.state === 'done')).progress.done).toBe(2);
    // A pick is used once; an id never picked here names nothing.
    const reused = await backend.dispatcher.call('catalog.create', { template: 'alt-text', pickId: pick.pickId }, CTX);
    expect(!reused.ok && reused.error.code).toBe('NOT_FOUND');
    const both = await backend.dispatcher.call('catalog.create', { template: 'alt-text', pickId: pick.pickId, items: [{ name: 'a.png', error: 'x' }] }, CTX);
    expect(!both.ok && both.error.code).toBe('INVALID_INPUT');

    const headless = createBackend({ dataDir: path.join(tmp, 'headless'), engine, app: { name: 'FireLLaVA', version: 'test' } });
    try {
      const r = await headless.dispatcher.call('catalog.pick', { kind: 'files' }, CTX);
      expect(!r.ok && r.error.message).toMatch(/desktop app/);
    } finally {
      await headless.close();
    }
  }, 60_000);

  it('a job cut short when the app closes resumes in the next start', async () => {
    const dataDir = path.join(tmp, 'restart');
    const first = createBackend({ dataDir, engine, app: { name: 'FireLLaVA', version: 'test' } });
    const items = [];
    for (let i = 0; i < 6; i++) items.push({ name: `p${i}.png`, attachmentId: await upload(first, 60 + i) });
    // Closed the moment the second row is saved: the third is in flight or next.
    const ac = new AbortController();
    let saved = 0;
    const twoSaved = new Promise<void>((resolve) => {
      void first.dispatcher.stream('catalog.watch', {}, { emit: (e) => (e as CatalogEvent).type === 'item' && (e as { item: CatalogItemView }).item.status === 'done' && ++saved === 2 && resolve(), signal: ac.signal, ctx: CTX });
    });
    const { job } = await call<{ job: CatalogJobView }>(first, 'catalog.create', { template: SMALL, items });
    await twoSaved;
    ac.abort();
    await first.close();
    const before = new Map((await itemsAfterReopen(dataDir, job.id)).filter((i) => i.status === 'done').map((i) => [i.id, i]));
    expect(before.size).toBeLessThan(6);

    const second = createBackend({ dataDir, engine, app: { name: 'FireLLaVA', version: 'test' } });
    try {
      const finished = await until(second, job.id, (j) => j.state === 'done');
      const after = await call<CatalogItemView[]>(second, 'catalog.items', { jobId: job.id });
      expect(finished.progress.done, JSON.stringify(after.filter((i) => i.status !== 'done'))).toBe(6);
      for (const [id, item] of before) expect(after.find((i) => i.id === id)).toEqual(item);
      expect(after.every((i) => i.attempts <= 2)).toBe(true);
    } finally {
      await second.close();
    }
  }, 120_000);

  async function itemsAfterReopen(dataDir: string, jobId: string): Promise<CatalogItemView[]> {
    const h = HistoryStore.open(path.join(dataDir, 'history.sqlite'));
    try {
      return new CatalogStore(h.db).items(jobId);
    } finally {
      h.close();
    }
  }
});
