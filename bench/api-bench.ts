// The OpenAI-compatible API measured with the official `openai` client against the binding called
// directly in this process, same model, same prompt, same run; then 4 concurrent clients.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as binding from '@fugood/llama.node';
import OpenAI from 'openai';
import { startApiServer } from '../electron/api/api-server';
import { createAttachmentStore } from '../electron/attachments/attachment-store';
import { createLocalEngine } from '../electron/engine/engine-host';
import { formatFireLlavaPrompt } from '../electron/engine/prompt-format';
import type { LlavaPairPaths } from '../electron/fixtures/tiny-llava';
import { SAMPLER_OVERRIDES } from '../electron/engine/worker-protocol';

export interface ApiBenchOptions {
  label: string;
  pair: LlavaPairPaths;
  /** PNG sent with every question. */
  image: string;
  nCtx: number;
  maxTokens: number;
  rounds: number;
  cpuOnly: boolean;
  /** Built engine worker (dist/engine/engine-worker.cjs). */
  workerEntry: string;
  nThreads?: number;
  concurrentClients?: number;
}

interface Sample {
  ttftMs: number;
  tokPerSec: number;
  tokens: number;
  text: string;
}

const KEY = 'api-bench-key-0123456789abcdef';
const QUESTION = 'Write a product title, three bullet features and a short description for this item.';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};
/** Tokens after the first over the time after the first: generation speed without prefill. */
const rate = (tokens: number, firstAt: number, endAt: number): number => (tokens > 1 && endAt > firstAt ? ((tokens - 1) * 1000) / (endAt - firstAt) : 0);
const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

export async function apiBench(o: ApiBenchOptions): Promise<string> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'firellava-api-bench-'));
  const engine = createLocalEngine({ workerEntry: o.workerEntry, nCtx: o.nCtx, cpuOnly: o.cpuOnly, nThreads: o.nThreads ?? 0 });
  const closers: (() => Promise<unknown>)[] = [() => engine.dispose(), () => rm(tmp, { recursive: true, force: true })];
  try {
    const loaded = await engine.load(o.pair);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const status = engine.status();
    const attachments = createAttachmentStore(path.join(tmp, 'data'));
    const server = await startApiServer('127.0.0.1', 0, { engine, attachments, apiKey: KEY, maxPending: 64 });
    closers.unshift(() => server.close());
    const client = new OpenAI({ baseURL: server.baseUrl, apiKey: KEY, maxRetries: 0 });

    // The direct run reads the image exactly as the API stores it (the store may re-encode).
    const bytes = await readFile(o.image);
    const stored = await attachments.add(bytes);
    const storedPath = await attachments.pathOf(stored.id);
    const imageUrl = `data:image/png;base64,${bytes.toString('base64')}`;

    const variant: binding.LibVariant = status.device?.backend === 'cuda' ? 'cuda' : status.device?.backend === 'vulkan' ? 'vulkan' : 'default';
    const onGpu = (status.gpuLayers?.offloaded ?? 0) > 0;
    const ctx = await binding.loadModel({
      model: o.pair.model,
      n_ctx: o.nCtx,
      n_gpu_layers: onGpu ? 999 : 0,
      lib_variant: variant,
      n_parallel: 1,
      ctx_shift: false,
      ...(o.nThreads ? { n_threads: o.nThreads } : {}),
    });
    closers.unshift(() => ctx.release());
    if (!ctx.initMultimodal({ path: o.pair.mmproj, use_gpu: onGpu })) throw new Error('initMultimodal failed');

    const direct = async (system: string, maxTokens: number): Promise<Sample> => {
      const p = formatFireLlavaPrompt(system, [{ role: 'user', text: QUESTION, images: [{ id: stored.id, path: storedPath }] }]);
      const start = performance.now();
      let first = 0;
      const r = await ctx.completion({ prompt: p.prompt, media_paths: p.mediaPaths, n_predict: maxTokens, temperature: 0, top_k: 1, top_p: 1, seed: 7, ...SAMPLER_OVERRIDES }, () => {
        if (!first) first = performance.now();
      });
      const end = performance.now();
      return { ttftMs: first - start, tokPerSec: rate(r.tokens_predicted, first, end), tokens: r.tokens_predicted, text: r.text };
    };

    const viaApi = async (system: string, maxTokens: number): Promise<Sample & { firstAt: number; endAt: number }> => {
      const start = performance.now();
      const stream = await client.chat.completions.create({
        model: 'firellava-13b',
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: [{ type: 'text', text: QUESTION }, { type: 'image_url', image_url: { url: imageUrl } }] },
        ],
        max_tokens: maxTokens,
        temperature: 0,
        seed: 7,
        stream: true,
        stream_options: { include_usage: true },
      });
      let first = 0;
      let text = '';
      let tokens = 0;
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta.content;
        if (delta) {
          if (!first) first = performance.now();
          text += delta;
        }
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
      const end = performance.now();
      return { ttftMs: first - start, tokPerSec: rate(tokens, first, end), tokens, text, firstAt: first, endAt: end };
    };

    // A new system line per round: nothing is shared with the previous round's KV cache.
    const d: Sample[] = [];
    const a: Sample[] = [];
    let sameText = true;
    for (let r = -2; r < o.rounds; r++) {
      const system = `Round ${r + 300}. You are a product copywriter.`;
      const x = await direct(system, o.maxTokens);
      const y = await viaApi(system, o.maxTokens);
      if (x.text !== y.text) sameText = false;
      if (r >= 0) {
        d.push(x);
        a.push(y);
      }
    }

    // Concurrent clients, each a different conversation, arriving a few ms apart.
    const n = o.concurrentClients ?? 4;
    const concurrentTokens = Math.max(8, Math.min(o.maxTokens, 64));
    const single = await viaApi('Concurrency warm-up. You are a product copywriter.', concurrentTokens);
    const t0 = performance.now();
    const runs = await Promise.allSettled(
      Array.from({ length: n }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 5));
        return viaApi(`Client ${i}. You are a product copywriter.`, concurrentTokens);
      }),
    );
    const done = runs.filter((r): r is PromiseFulfilledResult<Sample & { firstAt: number; endAt: number }> => r.status === 'fulfilled').map((r) => r.value);
    // One answer at a time (the engine's FIFO queue), none starved: the last waits for at most the others.
    const byStart = [...done].sort((x, y) => x.firstAt - y.firstAt);
    const oneAtATime = done.length === n && byStart.every((x, i) => i === 0 || x.firstAt >= byStart[i - 1]!.endAt - 1);
    const aloneMs = single.endAt - single.firstAt + single.ttftMs;
    const noStarvation = done.every((x) => x.endAt - t0 <= n * aloneMs * 2);

    const device = status.device ? `${status.device.name} (${status.device.backend}${status.gpuLayers ? `, ${status.gpuLayers.offloaded}/${status.gpuLayers.total} layers` : ''})` : 'CPU';
    const dr = median(d.map((x) => x.tokPerSec));
    const ar = median(a.map((x) => x.tokPerSec));
    const dt = median(d.map((x) => x.ttftMs));
    const at = median(a.map((x) => x.ttftMs));
    return [
      `OpenAI-compatible API (official \`openai\` client, streaming, image as data: URL) vs the binding directly, median of ${o.rounds} rounds${sameText ? '' : ' — WARNING: answers differed, comparison not like for like'}`,
      '',
      '| scenario | device | tokens | direct tok/s | API tok/s | ratio (≥0.97) | direct TTFT ms | API TTFT ms | TTFT overhead ms (≤10) |',
      '|---|---|---|---|---|---|---|---|---|',
      `| ${o.label} | ${device} | ${d[0]?.tokens ?? 0} | ${f(dr)} | ${f(ar)} | ${f(ar / dr, 3)} | ${f(dt, 2)} | ${f(at, 2)} | ${f(at - dt, 2)} |`,
      '',
      `| concurrent clients | completed | one answer at a time | none waits longer than ${n} × alone × 2 | total ms | time to last token per client, in sending order (ms) | one request alone (ms) |`,
      '|---|---|---|---|---|---|---|',
      `| ${n} × ${concurrentTokens} tokens | ${done.length}/${n} | ${oneAtATime ? 'yes' : 'no'} | ${noStarvation ? 'yes' : 'no'} | ${f(Math.max(...done.map((x) => x.endAt)) - t0, 0)} | ${done.map((x) => f(x.endAt - t0, 0)).join(', ')} | ${f(aloneMs, 0)} |`,
    ].join('\n');
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}
