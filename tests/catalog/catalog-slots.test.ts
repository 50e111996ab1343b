// A catalog job on an engine with several slots runs items side by side (slots − 1, one kept for a
// chat), and the rows are the ones the same photos give one by one (top_k 1, fixed seed).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { catalogWorkers, CatalogService } from '../../electron/catalog/catalog-service';
import { CatalogStore } from '../../electron/catalog/catalog-store';
import { findTemplate } from '../../electron/catalog/catalog-templates';
import type { Engine } from '../../electron/engine/engine';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { HistoryStore } from '../../electron/store/history-store';
import { writeLongContextPair } from '../api/api-helpers';
import { startEngine } from '../helpers/engine';
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

afterAll(async () => {
  history?.close();
  await engine?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

it('runs two items at once on 3 slots, with the rows of a one-by-one run', async () => {
  expect(catalogWorkers(engine, 0)).toBe(2);
  const spans: { start: number; end: number }[] = [];
  const timed: Engine = {
    status: () => engine.status(),
    onStatus: (l) => engine.onStatus(l),
    load: (p) => engine.load(p),
    dispose: async () => undefined,
    generate: async (req, onEvent, signal) => {
      const span = { start: performance.now(), end: 0 };
      spans.push(span);
      const done = await engine.generate(req, onEvent, signal);
      span.end = performance.now();
      return done;
    },
  };
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
