// `npm run bench`: the whole pipeline (HTTP client → transport → backend → engine host → worker)
// against the raw binding called in this process, same model, same prompt, same run.
// Not a test: it prints a table and, with --json FILE, writes the numbers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as binding from '@fugood/llama.node';
import { apiBench } from './api-bench';
import { catalogBench } from './catalog-bench';
import { catalogGridBench } from './catalog-grid-bench';
import { createBackend } from '../electron/backend/backend';
import { createLocalEngine, type LocalEngine } from '../electron/engine/engine-host';
import { formatFireLlavaPrompt } from '../electron/engine/prompt-format';
import { gradientPng } from '../electron/fixtures/png';
import { downloadBench } from './download-bench';
import { convertBench } from './convert-bench';
import { FIRELLAVA_13B_TEXT, FIRELLAVA_VISION, FIXTURE_GENERATOR_VERSION, writeLlavaPair, type LlavaPairPaths, type TinyLlavaOptions } from '../electron/fixtures/tiny-llava';
import { startHttpServer, type RunningServer } from '../electron/server/http-server';
import { rendererStreamBench } from './renderer-bench';
import { slotsBench } from './slots-bench';
import { storeBench } from './store-bench';
import type { ChatTurn } from '../electron/shared/contract';
import type { ContractClient } from '../electron/shared/client';
import type { GenerateEvent } from '../electron/shared/types';
import { createHttpClient } from '../electron/transport/http-client';
import { SAMPLER_OVERRIDES } from '../electron/engine/worker-protocol';
import { workerEnv } from '../electron/engine/worker-process';

const ROOT = path.resolve(__dirname, '..', '..');
const THREADS = Number(process.env.BENCH_THREADS ?? 0);
const QUESTION = 'Write a product title, three bullet features and a short description for this item.';

interface Sample {
  ttftMs: number;
  tokens: number;
  tokPerSec: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

/** Tokens after the first over the time after the first: generation speed without prefill. */
const rate = (tokens: number, firstAt: number, endAt: number): number => (tokens > 1 && endAt > firstAt ? ((tokens - 1) * 1000) / (endAt - firstAt) : 0);

// --- direct: the binding in this process ------------------------------------------------------

class Direct {
  private constructor(private readonly ctx: binding.LlamaContext) {}

  static async open(pair: LlavaPairPaths, variant: binding.LibVariant, nGpuLayers: number, nCtx: number): Promise<Direct> {
    const ctx = await binding.loadModel({
      model: pair.model,
      n_ctx: nCtx,
      n_gpu_layers: nGpuLayers,
      lib_variant: variant,
      n_parallel: 1,
      ctx_shift: false,
      ...(THREADS > 0 ? { n_threads: THREADS } : {}),
    });
    if (!ctx.initMultimodal({ path: pair.mmproj, use_gpu: nGpuLayers > 0 })) throw new Error('initMultimodal failed');
    return new Direct(ctx);
  }

  async run(system: string, turns: ChatTurn[], imagePath: string | null, maxTokens: number): Promise<Sample & { text: string }> {
    const f = formatFireLlavaPrompt(system, turns.map((t) => ({ role: t.role, text: t.text, images: t.attachmentIds.map((id) => ({ id, path: imagePath! })) })));
    const start = performance.now();
    let first = 0;
    const result = await this.ctx.completion(
      { prompt: f.prompt, media_paths: f.mediaPaths.length ? f.mediaPaths : undefined, n_predict: maxTokens, temperature: 0, top_k: 1, top_p: 1, seed: 7, ...SAMPLER_OVERRIDES },
      () => {
        if (!first) first = performance.now();
      },
    );
    const end = performance.now();
    // The binding may deliver a last token callback after completion() resolved.
    if (!first) first = end;
    return {
      ttftMs: first - start,
      tokens: result.tokens_predicted,
      tokPerSec: rate(result.tokens_predicted, first, end),
      text: result.text,
    };
  }

  async close(): Promise<void> {
    await this.ctx.release();
  }
}

// --- pipeline: HTTP client → server → backend → engine host → worker process -------------------

class Pipeline {
  private constructor(
    readonly engine: LocalEngine,
    private readonly server: RunningServer,
    private readonly client: ContractClient,
    private readonly dataDir: string,
  ) {}

  static async open(pair: LlavaPairPaths, nCtx: number, cpuOnly: boolean): Promise<Pipeline> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'firellava-bench-'));
    const engine = createLocalEngine({ workerEntry: path.join(ROOT, 'dist', 'engine', 'engine-worker.cjs'), nCtx, cpuOnly, nThreads: THREADS });
    const loaded = await engine.load(pair);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const { dispatcher } = createBackend({ dataDir, engine, app: { name: 'bench', version: '0' } });
    const apiKey = 'bench-key-0123456789abcdef';
    const server = await startHttpServer('127.0.0.1', 0, { dispatcher, apiKey, staticDir: null });
    const client = createHttpClient({ baseUrl: server.origin, apiKey });
    return new Pipeline(engine, server, client, dataDir);
  }

  async addImage(file: string): Promise<string> {
    const r = await this.client.call('attachments.add', { name: path.basename(file), mimeType: 'image/png', data: new Uint8Array(await readFile(file)) });
    if (!r.ok) throw new Error(r.error.message);
    return r.value.id;
  }

  async run(conversationId: string, system: string, turns: ChatTurn[], maxTokens: number): Promise<Sample & { text: string; cachedTokens: number; promptTokens: number }> {
    const start = performance.now();
    let first = 0;
    let done: (GenerateEvent & { type: 'done' }) | null = null;
    let failure: string | null = null;
    const handle = this.client.stream(
      'chat.generate',
      { conversationId, system, turns, params: { maxTokens, temperature: 0, topK: 1, topP: 1, seed: 7, stop: [] } },
      (event) => {
        if (event.type === 'delta' && !first) first = performance.now();
        if (event.type === 'done') done = event;
        if (event.type === 'error') failure = event.error.message;
      },
    );
    const finished = await handle.done;
    const end = performance.now();
    if (!first) first = end; // an empty answer streams no text
    if (!finished.ok) throw new Error(finished.error.message);
    if (failure || !done) throw new Error(failure ?? 'no done event');
    const d = done as GenerateEvent & { type: 'done' };
    return {
      ttftMs: first - start,
      tokens: d.usage.completionTokens,
      tokPerSec: rate(d.usage.completionTokens, first, end),
      text: d.text,
      cachedTokens: d.usage.cachedTokens,
      promptTokens: d.usage.promptTokens,
    };
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.engine.dispose();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

// --- scenarios --------------------------------------------------------------------------------

interface Scenario {
  label: string;
  pair: LlavaPairPaths;
  image: string;
  nCtx: number;
  maxTokens: number;
  rounds: number;
}

interface Row {
  scenario: string;
  device: string;
  /** imageMs: first-turn TTFT with the image minus the same question without it (encode + image-token prefill). */
  direct: { ttftMs: number; tokPerSec: number; tokens: number; imageMs: number };
  pipeline: { ttftMs: number; tokPerSec: number; tokens: number };
  tokRatio: number;
  ttftRatio: number;
  ttftOverheadMs: number;
  /** cached: prompt tokens of the second turn served from the KV cache, "cached/total". */
  secondTurn: { firstTtftMs: number; secondTtftMs: number; ratio: number; cached: string };
}

async function runScenario(s: Scenario, cpuOnly: boolean): Promise<Row> {
  const pipeline = await Pipeline.open(s.pair, s.nCtx, cpuOnly);
  const status = pipeline.engine.status();
  process.stderr.write(`bench: engine ${status.message}\n`);
  if (!cpuOnly && !(status.gpuLayers && status.gpuLayers.offloaded > 0)) {
    // A 13B-wide model on this CPU build takes minutes per image: not worth waiting for.
    await pipeline.close();
    throw new Error(`GPU run requested but the engine is not on a GPU: ${status.message}`);
  }
  const variant: binding.LibVariant = status.device?.backend === 'cuda' ? 'cuda' : status.device?.backend === 'vulkan' ? 'vulkan' : 'default';
  const layers = status.gpuLayers && status.gpuLayers.offloaded > 0 ? 999 : 0;
  const direct = await Direct.open(s.pair, variant, layers, s.nCtx);
  const imageId = await pipeline.addImage(s.image);

  // A new system line per round: nothing is shared with the previous round's KV cache.
  const turnsFor = (): ChatTurn[] => [{ role: 'user', text: QUESTION, attachmentIds: [imageId] }];
  const d: Sample[] = [];
  const p: Sample[] = [];
  const textOnly: number[] = [];
  for (let r = -2; r < s.rounds; r++) {
    const system = `Round ${r + 100}. You are a product copywriter.`;
    const a = await direct.run(system, turnsFor(), s.image, s.maxTokens);
    const b = await pipeline.run(`bench-${r}`, system, turnsFor(), s.maxTokens);
    if (a.text !== b.text) throw new Error(`direct and pipeline answers differ in round ${r}: the comparison would be unfair`);
    if (r >= 0) {
      d.push(a);
      p.push(b);
      textOnly.push((await direct.run(`Text round ${r}.`, [{ role: 'user', text: QUESTION, attachmentIds: [] }], null, 2)).ttftMs);
    }
  }

  // Second turn of an image conversation, through the pipeline (what the user waits for).
  const firsts: number[] = [];
  const seconds: number[] = [];
  let cached = '';
  for (let r = 0; r < Math.max(3, Math.ceil(s.rounds / 2)); r++) {
    const system = `Conversation ${r + 500}. You are a product copywriter.`;
    const one = await pipeline.run(`turns-${r}`, system, turnsFor(), 32);
    const two = await pipeline.run(`turns-${r}`, system, [...turnsFor(), { role: 'assistant', text: one.text, attachmentIds: [] }, { role: 'user', text: 'Now make it shorter.', attachmentIds: [] }], 32);
    firsts.push(one.ttftMs);
    seconds.push(two.ttftMs);
    cached = `${two.cachedTokens}/${two.promptTokens}`;
  }

  await direct.close();
  const device = status.device ? `${status.device.name} (${status.device.backend}${status.gpuLayers ? `, ${status.gpuLayers.offloaded}/${status.gpuLayers.total} layers` : ''})` : 'CPU';
  await pipeline.close();
  const dt = median(d.map((x) => x.ttftMs));
  const pt = median(p.map((x) => x.ttftMs));
  const dr = median(d.map((x) => x.tokPerSec));
  const pr = median(p.map((x) => x.tokPerSec));
  return {
    scenario: s.label,
    device,
    direct: { ttftMs: dt, tokPerSec: dr, tokens: d[0]?.tokens ?? 0, imageMs: dt - median(textOnly) },
    pipeline: { ttftMs: pt, tokPerSec: pr, tokens: p[0]?.tokens ?? 0 },
    tokRatio: pr / dr,
    ttftRatio: pt / dt,
    ttftOverheadMs: pt - dt,
    secondTurn: { firstTtftMs: median(firsts), secondTtftMs: median(seconds), ratio: median(seconds) / median(firsts), cached },
  };
}

function table(rows: Row[]): string {
  const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
  const lines = [
    '| scenario | device | tokens | direct tok/s | pipeline tok/s | ratio (≥0.98) | direct TTFT ms | pipeline TTFT ms | TTFT overhead ms (≤5% + 5) | image cost ms (encode + prefill) | 2nd-turn TTFT / 1st (≤0.10) | 2nd-turn prompt tokens cached |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.device} | ${r.direct.tokens} | ${f(r.direct.tokPerSec)} | ${f(r.pipeline.tokPerSec)} | ${f(r.tokRatio, 3)} | ${f(r.direct.ttftMs, 2)} | ${f(r.pipeline.ttftMs, 2)} | ${f(r.ttftOverheadMs, 2)} | ${f(r.direct.imageMs)} | ${f(r.secondTurn.secondTtftMs, 2)} / ${f(r.secondTurn.firstTtftMs, 2)} = ${f(r.secondTurn.ratio, 3)} | ${r.secondTurn.cached} |`,
    );
  }
  return lines.join('\n');
}

async function makePair(dir: string, opts: TinyLlavaOptions): Promise<LlavaPairPaths> {
  const marker = path.join(dir, 'done.json');
  const want = JSON.stringify({ version: FIXTURE_GENERATOR_VERSION, opts });
  if (existsSync(marker) && (await readFile(marker, 'utf8')) === want) {
    return JSON.parse(await readFile(path.join(dir, 'pair.json'), 'utf8')) as LlavaPairPaths;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const pair = await writeLlavaPair(dir, opts);
  await writeFile(path.join(dir, 'pair.json'), JSON.stringify(pair));
  await writeFile(marker, want);
  return pair;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'string' },
      rounds: { type: 'string', default: '7' },
      'max-tokens': { type: 'string' },
      // FireLLaVA-13B widths with this many layers each (comma list), for a GPU machine.
      'gpu-layers': { type: 'string' },
      cache: { type: 'string', default: path.join(ROOT, '.cache', 'bench') },
      // Every section once, small: proves the bench still runs (CI); its numbers mean nothing.
      smoke: { type: 'boolean', default: false },
      // One section that needs no model, alone: store, renderer, grid or download.
      only: { type: 'string' },
    },
  });
  const smoke = values.smoke!;
  const cache = path.resolve(values.cache!);
  await mkdir(cache, { recursive: true });
  const rendererDir = path.join(ROOT, 'dist', 'renderer');
  const standalone: Record<string, () => Promise<string>> = {
    // Chat history at 10,000 conversations / 200,000 messages (~1 min of seeding).
    store: () => storeBench(smoke ? { conversations: 50, messages: 1_000, longConversation: 200, rounds: 1 } : {}),
    renderer: () => rendererStreamBench({ rendererDir, ...(smoke ? { tokens: 200 } : {}) }),
    grid: () => catalogGridBench({ rendererDir, ...(smoke ? { items: 100, slowDistance: 3000 } : {}) }),
    download: () => downloadBench({ dir: path.join(cache, 'download'), ...(smoke ? { sizeBytes: 8 * 1024 * 1024, runs: 1 } : {}) }),
  };
  if (values.only) {
    const section = standalone[values.only];
    if (!section) throw new Error(`--only takes one of ${Object.keys(standalone).join(', ')}; got ${values.only}`);
    console.log(`\nFireLLaVA bench (${values.only} only), ${new Date().toISOString()}, ${os.cpus().length} CPU cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n\n${await section()}`);
    return;
  }
  const rounds = smoke ? 1 : Number(values.rounds);
  const maxTokens = smoke ? 16 : values['max-tokens'] ? Number(values['max-tokens']) : null;
  const image336 = path.join(cache, 'photo-336.png');
  await writeFile(image336, gradientPng(336, 336));
  const image32 = path.join(cache, 'photo-32.png');
  await writeFile(image32, gradientPng(32, 32));

  const scenarios: Scenario[] = [];
  let cpuOnly = true;
  if (values['gpu-layers']) {
    cpuOnly = false;
    for (const n of values['gpu-layers'].split(',').map(Number)) {
      const pair = await makePair(path.join(cache, `firellava-shaped-${n}`), {
        tensorType: 'f16',
        text: { ...FIRELLAVA_13B_TEXT, nLayer: n },
        vision: { ...FIRELLAVA_VISION },
      });
      scenarios.push({ label: `13B widths, ${n}/40 layers, F16`, pair, image: image336, nCtx: 4096, maxTokens: maxTokens ?? 128, rounds });
    }
  } else {
    // The tiny test model with a longer context: 1,500 tokens make fixed costs visible as what they are.
    const tiny = await makePair(path.join(cache, 'tiny'), { tensorType: 'f32', text: { nCtx: 4096 } });
    scenarios.push({ label: 'tiny (64 wide, 2 layers), 28 px vision', pair: tiny, image: image32, nCtx: 4096, maxTokens: maxTokens ?? 1500, rounds });
    // A vision tower with LLaVA-1.5's 576 image tokens makes the cost of re-encoding visible.
    const vision = await makePair(path.join(cache, 'small-336'), {
      tensorType: 'f32',
      text: { nEmbd: 256, nLayer: 4, nHead: 8, nHeadKv: 8, nFf: 512, nCtx: 2048 },
      vision: { nEmbd: 128, nLayer: 4, nHead: 4, nFf: 512, imageSize: 336, patchSize: 14 },
    });
    scenarios.push({ label: 'small (256 wide, 4 layers), 336 px vision', pair: vision, image: image336, nCtx: 2048, maxTokens: maxTokens ?? 256, rounds });
  }

  const rows: Row[] = [];
  for (const s of scenarios) {
    process.stderr.write(`bench: ${s.label}…\n`);
    rows.push(await runScenario(s, cpuOnly));
  }
  const out = table(rows);
  console.log(`\nFireLLaVA bench, ${new Date().toISOString()}, ${os.cpus().length} CPU cores, node ${process.version}\n`);
  console.log(out);
  // Resume from the per-conversation KV cache and parallel streams (BENCH_SLOTS=0 skips): the 336 px scenario.
  const resume = scenarios[scenarios.length - 1]!;
  if (process.env.BENCH_SLOTS !== '0') {
    console.log(`\n${await slotsBench({ ...resume, cpuOnly, workerEntry: path.join(ROOT, 'dist', 'engine', 'engine-worker.cjs'), nThreads: THREADS, streamTokens: smoke ? 16 : 256, rounds: smoke ? 1 : 3 })}`);
  }
  // BENCH_STORE=0 skips the store and both renderer sections; BENCH_GRID=0 only the review grid.
  if (process.env.BENCH_STORE !== '0') {
    console.log(`\n${await standalone.store!()}\n\n${await standalone.renderer!()}`);
    if (process.env.BENCH_GRID !== '0') console.log(`\n${await standalone.grid!()}`);
  }
  if (values.json) await writeFile(values.json, JSON.stringify({ rows, table: out, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model }, null, 2));
  // The OpenAI-compatible API with the official client vs the binding, and 4 concurrent clients (BENCH_API=0 skips).
  // Always the 336 px photo (180 kB as a data: URL): what an API client sends with every turn.
  if (process.env.BENCH_API !== '0') console.log(`\n${await apiBench({ ...scenarios[0]!, label: `${scenarios[0]!.label}, 336 px photo as a data: URL`, image: image336, maxTokens: Math.min(scenarios[0]!.maxTokens, 512), cpuOnly, ...(smoke ? { concurrentClients: 2 } : {}), workerEntry: path.join(ROOT, 'dist', 'engine', 'engine-worker.cjs'), nThreads: THREADS })}`);
  // Catalog jobs vs the same prompts on the binding, on the 336 px model (BENCH_CATALOG=0 skips).
  const catalogScenario = scenarios.find((s) => s.image === image336) ?? scenarios[0]!;
  if (process.env.BENCH_CATALOG !== '0') console.log(`\n${await catalogBench({ label: catalogScenario.label, pair: catalogScenario.pair, nCtx: catalogScenario.nCtx, items: smoke ? 2 : 12, ...(smoke ? { fields: ['altText' as const], parallel: [2] } : {}), cpuOnly, workerEntry: path.join(ROOT, 'dist', 'engine', 'engine-worker.cjs'), nThreads: THREADS })}`);
  if (process.env.BENCH_DOWNLOAD !== '0') console.log(`\n${await standalone.download!()}`);
  if (process.env.BENCH_CONVERT) console.log(`\n${await convertBench({ dir: path.join(cache, 'convert'), cli: path.join(ROOT, 'dist', 'cli', 'firellava.cjs') })}`);
}

// The direct baseline runs the binding in this process: it gets the malloc settings the engine
// worker runs with (workerEnv), which glibc reads only at start, so the comparison stays like for like.
const tunedEnv = workerEnv();
if (tunedEnv.GLIBC_TUNABLES !== process.env.GLIBC_TUNABLES) {
  const child = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: tunedEnv });
  process.exit(child.status ?? 1);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
