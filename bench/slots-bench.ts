// Slots and the per-conversation KV cache (issue #12): second-turn TTFT when the conversation's
// state comes back from kv-cache/ (after switching away, after a restart) vs a cold re-prefill of
// the same history, and aggregate tok/s with 1, 2 and 4 concurrent streams.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EngineTurn, GenerateRequest } from '../electron/engine/engine';
import { createLocalEngine, type LocalEngine } from '../electron/engine/engine-host';
import { conversationStem } from '../electron/engine/kv-cache';
import type { LlavaPairPaths } from '../electron/fixtures/tiny-llava';

export interface SlotsBenchOptions {
  label: string;
  pair: LlavaPairPaths;
  image: string;
  nCtx: number;
  cpuOnly: boolean;
  workerEntry: string;
  nThreads: number;
  /** Tokens per stream in the parallel rows. */
  streamTokens: number;
  rounds: number;
}

const PARAMS = { temperature: 0, topK: 1, topP: 1, seed: 7, stop: [] as string[] };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function timed(engine: LocalEngine, req: GenerateRequest): Promise<{ ttftMs: number; totalMs: number; tokens: number; cached: number; prompt: number; text: string }> {
  const start = performance.now();
  let first = 0;
  const done = await engine.generate(req, (e) => {
    if (e.type === 'delta' && !first) first = performance.now();
  });
  const end = performance.now();
  if (done.type !== 'done') throw new Error(`slots bench: ${done.error.message}`);
  return { ttftMs: (first || end) - start, totalMs: end - start, tokens: done.usage.completionTokens, cached: done.usage.cachedTokens, prompt: done.usage.promptTokens, text: done.text };
}

export async function slotsBench(o: SlotsBenchOptions): Promise<string> {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'firellava-bench-kv-'));
  const open = async (slots?: number) => {
    const engine = createLocalEngine({ workerEntry: o.workerEntry, nCtx: o.nCtx, cpuOnly: o.cpuOnly, nThreads: o.nThreads, cacheDir, ...(slots ? { slots } : {}) });
    const loaded = await engine.load(o.pair);
    if (!loaded.ok) throw new Error(loaded.error.message);
    return engine;
  };
  const lines: string[] = [];
  try {
    let engine = await open();
    const total = engine.status().slots?.total ?? 1;
    const ask = (id: string, turns: EngineTurn[], maxTokens: number): GenerateRequest => ({ conversationId: id, system: `Conversation ${id}.`, turns, params: { ...PARAMS, maxTokens } });
    const first: EngineTurn = { role: 'user', text: 'Describe this product photo for a catalog.', images: [{ id: 'p'.repeat(64), path: o.image }] };
    const switched: number[] = [];
    const restarted: number[] = [];
    const cold: number[] = [];
    let bytes = 0;
    let cachedNote = '';
    for (let r = 0; r < o.rounds; r++) {
      const id = `resume-${r}`;
      const one = await timed(engine, ask(id, [first], 32));
      const history: EngineTurn[] = [first, { role: 'assistant', text: one.text, images: [] }, { role: 'user', text: 'Now make it shorter.', images: [] }];
      // Switch away: another conversation takes a turn in between.
      await timed(engine, ask(`other-${r}`, [{ ...first, text: 'What colour is it?' }], 16));
      await engine.refreshCacheSize();
      bytes = (await stat(`${conversationStem(cacheDir, id)}.state`)).size;
      const back = await timed(engine, ask(id, history, 8));
      switched.push(back.ttftMs);
      cachedNote = `${back.cached}/${back.prompt}`;
      // The same second turn with no state: what a switch cost before (image re-encoded, all prefilled).
      cold.push((await timed(engine, { ...ask(`cold-${r}`, history, 8), system: `Conversation ${id}.`, cacheBy: 'none' })).ttftMs);
      // Third turn after a restart of the worker: the state comes from disk.
      await engine.dispose();
      engine = await open();
      const third = [...history, { role: 'assistant' as const, text: back.text, images: [] }, { role: 'user' as const, text: 'And a title?', images: [] }];
      const thirdColdSystem = `Conversation ${id}.`;
      restarted.push((await timed(engine, ask(id, third, 8))).ttftMs);
      cold.push((await timed(engine, { ...ask(`cold3-${r}`, third, 8), system: thirdColdSystem, cacheBy: 'none' })).ttftMs);
    }
    const c = median(cold);
    lines.push(`Slots: ${o.label}, ${total} slots (${o.rounds} rounds, medians)`);
    lines.push('| row | TTFT ms | × cold | state bytes read | cached/prompt tokens |');
    lines.push('|---|---:|---:|---:|---:|');
    lines.push(`| cold re-prefill (no state) | ${c.toFixed(1)} | 1.00 | 0 | 0 |`);
    lines.push(`| resume after switching | ${median(switched).toFixed(1)} | ${(median(switched) / c).toFixed(2)} | ${bytes} | ${cachedNote} |`);
    lines.push(`| resume after worker restart | ${median(restarted).toFixed(1)} | ${(median(restarted) / c).toFixed(2)} | ≥${bytes} | |`);
    await engine.dispose();

    // Aggregate throughput: k text streams at once on an engine with 4 slots.
    engine = await open(4);
    lines.push('');
    lines.push('| concurrent streams | aggregate tok/s | per-stream tok/s | wall ms |');
    lines.push('|---:|---:|---:|---:|');
    let base = 0;
    for (const k of [1, 2, 4]) {
      const start = performance.now();
      const runs = await Promise.all(
        Array.from({ length: k }, (_, i) => timed(engine, { ...ask(`par-${k}-${i}`, [{ role: 'user', text: `Story number ${i}, please.`, images: [] }], o.streamTokens), cacheBy: 'none' })),
      );
      const wall = performance.now() - start;
      const tokens = runs.reduce((s, r) => s + r.tokens, 0);
      const agg = (tokens * 1000) / wall;
      if (k === 1) base = agg;
      lines.push(`| ${k} | ${agg.toFixed(0)} (${(agg / base).toFixed(2)}×) | ${(agg / k).toFixed(0)} | ${wall.toFixed(0)} |`);
    }
    await engine.dispose();
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
  return lines.join('\n');
}
