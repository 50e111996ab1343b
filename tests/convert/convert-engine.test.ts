// Converts a tiny HF-layout LLaVA checkpoint and runs the result in the real engine (in a child
// process: a bad file kills the loading process). The engine's greedy tokens and top-k
// probabilities must match a float64 reference computed straight from the HF weights.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertLlava, type Quant } from '../../electron/convert/convert-llava';
import { gradientPng } from '../../electron/fixtures/png';
import { TINY_HF_TEXT, writeHfCheckpoint } from '../../electron/fixtures/hf-checkpoint';
import { buildSpmVocab } from '../../electron/fixtures/tiny-llava';
import { REPO_ROOT } from '../helpers/fixtures';
import { ReferenceLlama, argmax, softmax } from './reference-llama';

const run = promisify(execFile);
const PROBE = path.join(REPO_ROOT, 'tests', 'convert', 'engine-probe.cjs');
const PROMPT = 'USER: describe the color of this picture\nASSISTANT:';
const STEPS = 32;
const T = TINY_HF_TEXT;
const EOS = 2;

// The binding's defaults turn on DRY and XTC, which change the distribution: off, like penalties.
const PLAIN = { dry_multiplier: 0, xtc_probability: 0, penalty_last_n: 0, penalty_repeat: 1, typical_p: 1 };

const pieceIds = new Map<string, number>();
buildSpmVocab(T.spmVocab).tokens.forEach((t, i) => {
  if (i > 258) pieceIds.set(t.replace(/\u2581/g, ' '), i);
});
const idOf = (text: string): number => {
  const id = pieceIds.get(text);
  if (id === undefined) throw new Error(`engine produced "${text}", which is not a single word piece`);
  return id;
};

interface ProbeRun {
  promptTokens: number[];
  text: string;
  probs: { content: string; probs: { tok_str: string; prob: number }[] }[];
}

let dir: string;
let ckpt: string;
let ref: ReferenceLlama;
const converted = new Map<string, { model: string; mmproj: string }>();

async function probe(model: string, runs: object[], mmproj?: string): Promise<ProbeRun[]> {
  const req = path.join(dir, `probe-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(req, JSON.stringify({ model, mmproj, runs }));
  const { stdout } = await run(process.execPath, [PROBE, req], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 }).catch((e: { signal?: string; code?: number; stderr?: string }) => {
    const tail = (e.stderr ?? '').split('\n').filter((l) => !/^(llama|load|print_info|graph|sched|clip|common|~llama|set_|adapters|attach|detach)/.test(l)).slice(-15).join('\n');
    throw new Error(`engine probe failed (code ${e.code}, signal ${e.signal}):\n${tail}`);
  });
  const at = stdout.indexOf('@@PROBE@@');
  if (at < 0) throw new Error('probe printed no result');
  return (JSON.parse(stdout.slice(at + 9).trim()) as { runs: ProbeRun[] }).runs;
}

function masked(logits: Float64Array): Float64Array {
  const m = Float64Array.from(logits);
  m[EOS] = -Infinity; // ignore_eos
  return m;
}

interface Comparison {
  greedyRef: number[];
  greedyEngine: number[];
  /** Steps before the first greedy mismatch (STEPS when all agree). */
  agreeingSteps: number;
  /** Largest |p_engine - p_ref| over the engine's top-5 tokens at each teacher-forced step. */
  maxProbDiff: number;
}

async function compare(model: string): Promise<Comparison> {
  const [greedy, sampled] = await probe(model, [
    { prompt: PROMPT, steps: STEPS, sampling: { ...PLAIN, temperature: 0, top_k: 1 } },
    // temperature 1 with no truncation: the binding then reports the full softmax of each step.
    { prompt: PROMPT, steps: STEPS, sampling: { ...PLAIN, temperature: 1, top_k: 0, top_p: 1, min_p: 0 } },
  ]);
  const context = [1, ...greedy!.promptTokens]; // completion() adds <s>
  const greedyEngine = greedy!.probs.map((p) => idOf(p.content));
  const greedyRef: number[] = [];
  const seq = [...context];
  for (let i = 0; i < STEPS; i++) {
    const logits = ref.logits(seq);
    const next = argmax(masked(logits[logits.length - 1]!));
    greedyRef.push(next);
    seq.push(next);
  }
  let agreeingSteps = 0;
  while (agreeingSteps < STEPS && greedyRef[agreeingSteps] === greedyEngine[agreeingSteps]) agreeingSteps++;

  // Teacher forcing along the engine's own sampled tokens, so every step is comparable.
  const sampledIds = sampled!.probs.map((p) => idOf(p.content));
  const all = ref.logits([...context, ...sampledIds.slice(0, -1)]);
  let maxProbDiff = 0;
  // Step 0 is skipped: the binding reports the first token's probability as 1 regardless.
  for (let t = 1; t < sampledIds.length; t++) {
    const p = softmax(masked(all[context.length - 1 + t]!));
    for (const e of sampled!.probs[t]!.probs) maxProbDiff = Math.max(maxProbDiff, Math.abs(e.prob - (p[idOf(e.tok_str)] as number)));
  }
  expect(sampledIds.length).toBe(STEPS);
  return { greedyRef, greedyEngine, agreeingSteps, maxProbDiff };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'convert-engine-'));
  ckpt = path.join(dir, 'hf');
  await writeHfCheckpoint(ckpt, { dtype: 'F16', shards: 3 });
  ref = await ReferenceLlama.load(ckpt, { hidden: T.hidden, heads: T.heads, kvHeads: T.kvHeads, ff: T.ff, vocab: T.vocab, eps: T.eps, ropeTheta: T.ropeTheta }, T.layers);
  for (const quant of ['f32', 'f16', 'q8_0', 'q4_0'] as Quant[]) {
    converted.set(quant, await convertLlava({ from: ckpt, outDir: path.join(dir, quant), quant, sync: false }));
  }
  converted.set(
    'unpermuted',
    await convertLlava({ from: ckpt, outDir: path.join(dir, 'unpermuted'), quant: 'f32', sync: false, unsafeSkipRotaryPermutation: true }),
  );
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('converted tiny FireLLaVA checkpoint in the real engine', () => {
  test.each(['f32', 'f16'])('%s: 32 greedy tokens equal the reference, probabilities within 1e-2', async (quant) => {
    const c = await compare(converted.get(quant)!.model);
    console.log(`${quant}: ${c.agreeingSteps}/${STEPS} greedy steps agree, max top-5 prob diff ${c.maxProbDiff.toExponential(2)}`);
    expect(c.greedyEngine).toEqual(c.greedyRef);
    expect(c.maxProbDiff).toBeLessThan(1e-2);
    // The comparison is not vacuous: the reference does not just repeat one token.
    expect(new Set(c.greedyRef).size).toBeGreaterThan(3);
  });

  test('q8_0: probabilities within 3e-2 of the reference, greedy agrees for at least 8 steps', async () => {
    const c = await compare(converted.get('q8_0')!.model);
    console.log(`q8_0: ${c.agreeingSteps}/${STEPS} greedy steps agree, max top-5 prob diff ${c.maxProbDiff.toExponential(2)}`);
    expect(c.maxProbDiff).toBeLessThan(3e-2);
    expect(c.agreeingSteps).toBeGreaterThanOrEqual(8);
  });

  test('q4_0: runs and stays close to the reference (probabilities within 0.25)', async () => {
    const c = await compare(converted.get('q4_0')!.model);
    console.log(`q4_0: ${c.agreeingSteps}/${STEPS} greedy steps agree, max top-5 prob diff ${c.maxProbDiff.toExponential(2)}`);
    expect(c.maxProbDiff).toBeLessThan(0.25);
    expect(c.agreeingSteps).toBeGreaterThanOrEqual(1);
  });

  test('negative control: without the Q/K rotary permutation the comparison fails', async () => {
    const c = await compare(converted.get('unpermuted')!.model);
    console.log(`unpermuted: ${c.agreeingSteps}/${STEPS} greedy steps agree, max top-5 prob diff ${c.maxProbDiff.toExponential(2)}`);
    expect(c.greedyEngine).not.toEqual(c.greedyRef);
    expect(c.maxProbDiff).toBeGreaterThan(1e-2);
  });

  test('the converted mmproj loads with the model and answers about an image', async () => {
    const image = path.join(dir, 'photo.png');
    await writeFile(image, gradientPng(40, 30));
    const pair = converted.get('f16')!;
    const [r] = await probe(pair.model, [{ prompt: 'USER: <__media__>\nwhat color is this?\nASSISTANT:', media: image, steps: 8, sampling: { ...PLAIN, temperature: 0, top_k: 1 } }], pair.mmproj);
    expect(r!.probs.length).toBe(8);
    expect(r!.text.length).toBeGreaterThan(0);
    // The image really reached the model: its answer differs from the text-only one.
    const [t] = await probe(pair.model, [{ prompt: 'USER: \nwhat color is this?\nASSISTANT:', steps: 8, sampling: { ...PLAIN, temperature: 0, top_k: 1 } }], pair.mmproj);
    expect(r!.text).not.toBe(t!.text);
  });
});
