// A catalog job on an engine with several slots runs items side by side (slots − 1, one kept for a
// chat), and the rows are the ones the same photos give one by one (top_k 1, fixed seed). A crash
// with several items in flight is pinned on the photo that causes it: the retries run alone.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { catalogWorkers, CatalogService } from '../../electron/catalog/catalog-service';
import { CatalogStore } from '../../electron/catalog/catalog-store';
import { findTemplate } from '../../electron/catalog/catalog-templates';
import type { Engine, GenerateRequest } from '../../electron/engine/engine';
import type { CatalogTemplate } from '../../electron/shared/contracts/catalog';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { HistoryStore } from '../../electron/store/history-store';
import { writeLongContextPair } from '../api/api-helpers';
import { startEngine, wrapGenerate } from '../helpers/engine';
import { makePng } from '../helpers/test-images';

let tmp: string;
let engine: LocalEngine;
let history: HistoryStore;
let attachments: AttachmentStore;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-catalog-slots-'));
  engine = startEngine({ slots: 3 });
  const loaded = await engine.load(await writeLongContextPair(path.join(tmp, 'model')));
  expect(loaded.ok).toBe(true);
  history = HistoryStore.open(path.join(tmp, 'data', 'history.sqlite'));
  attachments = createAttachmentStore(path.join(tmp, 'data'));
}, 60_000);

interface Span {
  itemId: number;
  start: number;
  end: number;
}

/** The real engine, with each generation's time span and a hook on its events. */
function spanned(spans: Span[], tap: (req: GenerateRequest, e: { type: string; phase?: string }) => void = () => undefined): Engine {
  return wrapGenerate(engine, async (req, onEvent, signal) => {
    const span = { itemId: Number(req.conversationId.split('-').pop()), start: performance.now(), end: Infinity };
    spans.push(span);
    const done = await engine.generate(req, (e) => {
      tap(req, e);
      onEvent(e);
    }, signal);
    span.end = performance.now();
    return done;
  });
}
const overlaps = (a: Span, spans: Span[]): boolean => spans.some((b) => b !== a && b.start < a.end && a.start < b.end);
// A long field: a kill at the first token lands long before the answer could end.
const LONG: CatalogTemplate = { ...findTemplate('custom'), fields: ['longDescription'], limits: { longDescription: 1200 } };

afterAll(async () => {
  history?.close();
  await engine?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

it('runs two items at once on 3 slots, with the rows of a one-by-one run', async () => {
  expect(catalogWorkers(engine, 0)).toBe(2);
  const spans: Span[] = [];
  const timed = spanned(spans);
  const svc = new CatalogService({ store: new CatalogStore(history.db), engine: timed, attachments, params: { seed: 3, topK: 1 } });
  const photos = await Promise.all(Array.from({ length: 4 }, (_, i) => svc.importBytes(`p-${i}.png`, makePng(28, 28, 70 + i), {})));
  const template = { ...findTemplate('custom'), limits: { title: 24, shortDescription: 40, altText: 30 } };

  const alone = svc.create({ name: 'one by one', template, items: photos, concurrency: 1 }).job;
  await svc.whenIdle(alone.id);
  const sequential = spans.splice(0);
  for (let i = 1; i < sequential.length; i++) expect(sequential[i]!.start).toBeGreaterThanOrEqual(sequential[i - 1]!.end);

  const side = svc.create({ name: 'side by side', template, items: photos, concurrency: 0 }).job;
  await svc.whenIdle(side.id);
  // Some item started before another one ended: two generations overlapped in time.
  const overlapped = spans.some((a) => spans.some((b) => a !== b && b.start >= a.start && b.start < a.end));
  expect(overlapped).toBe(true);

  const rows = (jobId: string) => svc.store.items(jobId).map((i) => ({ file: i.fileName, status: i.status, values: i.values }));
  expect(rows(side.id)).toEqual(rows(alone.id));
  expect(rows(side.id).every((r) => r.status === 'done')).toBe(true);
}, 240_000);

it('a photo that kills the worker with two items in flight fails alone: the bystander is retried alone and written', async () => {
  const spans: Span[] = [];
  let poisonId = -1;
  let kills = 0;
  const svc: CatalogService = new CatalogService({
    store: new CatalogStore(history.db),
    engine: spanned(spans, (req, e) => {
      if (e.type === 'phase' && e.phase === 'generating' && Number(req.conversationId.split('-').pop()) === poisonId) {
        kills++;
        process.kill(engine.workerPid()!, 'SIGKILL');
      }
    }),
    attachments,
    params: { seed: 3 },
  });
  const photos = await Promise.all(Array.from({ length: 4 }, (_, i) => svc.importBytes(`k-${i}.png`, makePng(28, 28, 90 + i), {})));
  const { job } = svc.create({ name: 'poison', template: LONG, items: photos, concurrency: 2, start: false });
  poisonId = svc.store.items(job.id)[1]!.id;
  svc.start(job.id);
  await svc.whenIdle(job.id);

  const items = svc.store.items(job.id);
  const poison = items.find((i) => i.id === poisonId)!;
  expect(kills).toBe(2);
  expect(poison).toMatchObject({ status: 'error', attempts: 2 });
  expect(poison.error).toMatch(/stopped twice/);
  const others = items.filter((i) => i.id !== poisonId);
  expect(others.map((i) => i.status)).toEqual(['done', 'done', 'done']);
  // Someone was in flight at the first kill (else this proves nothing), and was written on its retry.
  expect(others.some((i) => i.attempts === 2)).toBe(true);
  // Every retry after the kill (each item's second generation) ran with no other item beside it.
  const retries = items.filter((i) => i.attempts === 2).map((i) => spans.filter((s) => s.itemId === i.id)[1]!);
  expect(retries.length).toBeGreaterThanOrEqual(2);
  for (const r of retries) expect(overlaps(r, spans)).toBe(false);
  expect(svc.view(job.id).state).toBe('done');
}, 240_000);

it('items in flight when the process died run again one at a time; the rest side by side', async () => {
  const template = { ...findTemplate('custom'), limits: { title: 24, shortDescription: 40, altText: 30 } };
  const first = new CatalogService({ store: new CatalogStore(history.db), engine, attachments, params: { seed: 3 } });
  const photos = await Promise.all(Array.from({ length: 5 }, (_, i) => first.importBytes(`r-${i}.png`, makePng(28, 28, 110 + i), {})));
  const { job } = first.create({ name: 'died', template, items: photos, concurrency: 2, start: false });
  const [a, b] = first.store.items(job.id);
  // Two items in flight when the process died: attempts are counted before the engine is asked.
  first.store.markRunning(a!.id);
  first.store.markRunning(b!.id);

  const spans: Span[] = [];
  const svc = new CatalogService({ store: new CatalogStore(history.db), engine: spanned(spans), attachments, params: { seed: 3 } });
  expect(svc.store.item(a!.id)).toMatchObject({ status: 'pending', attempts: 1 });
  svc.start(job.id);
  await svc.whenIdle(job.id);

  const items = svc.store.items(job.id);
  expect(items.every((i) => i.status === 'done')).toBe(true);
  expect(items.map((i) => i.attempts)).toEqual([2, 2, 1, 1, 1]);
  for (const s of spans.filter((x) => x.itemId === a!.id || x.itemId === b!.id)) expect(overlaps(s, spans)).toBe(false);
  // The others still ran two at a time.
  expect(spans.some((s) => overlaps(s, spans))).toBe(true);
}, 240_000);
