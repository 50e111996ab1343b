// Catalog throughput: items/minute through a catalog job (import done, then queue → engine host →
// worker → JSON check → SQLite) against the same prompts with the same JSON schema run directly on
// the binding in this process, one after another. Also the per-item overhead outside the engine,
// and the job again with 2 and 4 items side by side on the engine's parallel slots.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as binding from '@fugood/llama.node';
import { createAttachmentStore } from '../electron/attachments/attachment-store';
import { CatalogService } from '../electron/catalog/catalog-service';
import { CatalogStore } from '../electron/catalog/catalog-store';
import { findTemplate, maxTokensFor, responseFormatFor, turnFor } from '../electron/catalog/catalog-templates';
import { createLocalEngine } from '../electron/engine/engine-host';
import { formatFireLlavaPrompt } from '../electron/engine/prompt-format';
import { SAMPLER_OVERRIDES } from '../electron/engine/worker-protocol';
import { gradientPng } from '../electron/fixtures/png';
import type { LlavaPairPaths } from '../electron/fixtures/tiny-llava';
import type { CatalogField } from '../electron/shared/contracts/catalog';
import { HistoryStore } from '../electron/store/history-store';

export interface CatalogBenchOptions {
  label: string;
  pair: LlavaPairPaths;
  nCtx: number;
  /** Photos per run (each a distinct 336 px image). */
  items: number;
  cpuOnly: boolean;
  workerEntry: string;
  nThreads?: number;
  /** Fields to write; default title, short description, tags and alt text (smoke: alt text). */
  fields?: CatalogField[];
  /** Items side by side for the extra rows (the engine gets one slot more than the most). */
  parallel?: number[];
}

/** Greedy and seeded on both sides, so both write the same answers. */
const PARAMS = { temperature: 0, topK: 1, topP: 1, seed: 7 };
const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

export async function catalogBench(o: CatalogBenchOptions): Promise<string> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'firellava-catalog-bench-'));
  // Shop fields that fit the bench model's 2,048-token context at their longest.
  const fields = o.fields ?? ['title', 'shortDescription', 'tags', 'altText'];
  const template = findTemplate({ ...findTemplate('custom'), name: 'Bench', fields });
  const parallel = o.parallel ?? [2, 4];
  // One slot more than the most items side by side: a job leaves one free for a chat (catalogWorkers).
  const engine = createLocalEngine({ workerEntry: o.workerEntry, nCtx: o.nCtx, cpuOnly: o.cpuOnly, nThreads: o.nThreads ?? 0, slots: Math.max(1, ...parallel) + 1 });
  const history = HistoryStore.open(path.join(tmp, 'history.sqlite'));
  try {
    const loaded = await engine.load(o.pair);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const attachments = createAttachmentStore(tmp);
    const service = new CatalogService({ store: new CatalogStore(history.db), engine, attachments, params: PARAMS });
    const files: string[] = [];
    for (let i = 0; i < o.items; i++) {
      const file = path.join(tmp, `photo-${i}.png`);
      await writeFile(file, gradientPng(336, 336 - i));
      files.push(file);
    }
    const items = await service.importFiles(files, null);

    // Job first: a warm engine on both sides (the direct side loads once, outside the timing).
    const runJob = async (concurrency: number): Promise<number> => {
      const t0 = performance.now();
      const { job } = service.create({ name: `bench ×${concurrency}`, template, items, concurrency });
      await service.whenIdle(job.id);
      const ms = performance.now() - t0;
      const done = service.store.items(job.id).filter((i) => i.status === 'done');
      if (done.length !== o.items) throw new Error(`catalog bench: ${o.items - done.length} items failed at ${concurrency} side by side`);
      return ms;
    };
    const jobMs = await runJob(1);
    const { generations, itemMs, engineMs } = service.stats;
    const sideBySide: [number, number][] = [];
    for (const k of parallel) sideBySide.push([k, await runJob(k)]);
    await engine.dispose();

    const ctx = await binding.loadModel({ model: o.pair.model, n_ctx: o.nCtx, n_gpu_layers: o.cpuOnly ? 0 : 99, n_parallel: 1, ctx_shift: false, ...(o.nThreads ? { n_threads: o.nThreads } : {}) });
    if (!ctx.initMultimodal({ path: o.pair.mmproj, use_gpu: !o.cpuOnly })) throw new Error('initMultimodal failed');
    const format = responseFormatFor(template);
    const t1 = performance.now();
    for (const it of items) {
      const file = await attachments.pathOf(it.attachmentId!);
      const p = formatFireLlavaPrompt('', [turnFor(template, {}, { id: it.attachmentId!, path: file })]);
      await ctx.completion(
        {
          prompt: p.prompt,
          media_paths: p.mediaPaths,
          n_predict: maxTokensFor(template),
          temperature: PARAMS.temperature,
          top_k: PARAMS.topK,
          top_p: PARAMS.topP,
          seed: PARAMS.seed,
          penalty_present: 0,
          penalty_freq: 0,
          response_format: format.type === 'json_schema' ? { type: 'json_schema', json_schema: { strict: true, schema: format.schema } } : { type: 'json_object' },
          ...SAMPLER_OVERRIDES,
        },
        () => undefined,
      );
    }
    const directMs = performance.now() - t1;
    await ctx.release();

    const perMin = (n: number, ms: number): number => (n * 60_000) / ms;
    const jobRate = perMin(o.items, jobMs);
    const directRate = perMin(o.items, directMs);
    return [
      `Catalog: ${o.label}, ${o.items} photos, fields ${fields.join(', ')}`,
      '',
      `  job (queue → engine → JSON check → SQLite)  ${f(jobRate).padStart(8)} items/min   ${generations} generations`,
      `  binding directly, same prompts and schema   ${f(directRate).padStart(8)} items/min   ${o.items} generations`,
      `  job / direct                                 ${f(jobRate / directRate, 2).padStart(8)}×  (target ≥ 0.95)`,
      `  per-item overhead outside the engine (DB, attachment path, JSON validation)  ${f((itemMs - engineMs) / Math.max(1, generations), 2)} ms`,
      ...sideBySide.map(([k, ms]) => `  job, ${k} items side by side (${Math.max(...parallel) + 1} slots)${' '.repeat(Math.max(0, 14 - String(k).length))}${f(perMin(o.items, ms)).padStart(8)} items/min   ${f(jobMs / ms, 2)}× one at a time`),
    ].join('\n');
  } finally {
    history.close();
    await engine.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
}
