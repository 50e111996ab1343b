// The converter without the engine: layout against the verified tiny GGUF fixtures, the rotary
// permutation, the tokenizer, progress, cancel, disk estimate and every refusal with its reason.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { QUANTS, convertLlava, estimateConversion, permuteRotaryRows, useMoreBits, type ConvertProgress } from '../../electron/convert/convert-llava';
import { CheckpointError, openCheckpoint, requireTensor } from '../../electron/convert/safetensors';
import { PieceType, encodeSentencePieceModel, parseSentencePieceModel } from '../../electron/convert/sentencepiece';
import { ADDED_TOKENS, TINY_HF_TEXT, writeHfCheckpoint } from '../../electron/fixtures/hf-checkpoint';
import { GgmlType } from '../../electron/gguf/ggml-types';
import { metaArray, metaNumber, metaString, readGgufFile } from '../../electron/gguf/gguf-reader';
import { getFixtures } from '../helpers/fixtures';

let dir: string;
let ckpt: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'convert-llava-'));
  ckpt = path.join(dir, 'hf');
  await writeHfCheckpoint(ckpt, { dtype: 'BF16' });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A copy of the checkpoint to break. */
async function copyCheckpoint(name: string): Promise<string> {
  const to = path.join(dir, name);
  await rm(to, { recursive: true, force: true });
  await writeHfCheckpoint(to, { dtype: 'F16' });
  return to;
}

async function expectRefusal(from: string, code: CheckpointError['code'], message: RegExp): Promise<void> {
  const out = path.join(dir, `out-${code}-${Math.random().toString(36).slice(2)}`);
  const err = await convertLlava({ from, outDir: out, quant: 'f16', sync: false }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  // Nothing that looks like a result is left behind.
  const left = existsSync(out) ? await readdir(out) : [];
  expect(left.filter((f) => f.endsWith('.gguf') || f.endsWith('.partial'))).toEqual([]);
}

describe('layout matches the GGUF files llama.cpp was verified with', () => {
  test('language model: same keys and tensors as the tiny fixture (vocab padded by the added tokens)', async () => {
    const out = path.join(dir, 'layout');
    const r = await convertLlava({ from: ckpt, outDir: out, quant: 'f16', sync: false });
    const fx = await getFixtures();
    const ours = await readGgufFile(r.model);
    const ref = await readGgufFile(fx.pairF16.model);
    for (const k of ref.metadata.keys()) if (k !== 'general.name') expect(ours.metadata.has(k), k).toBe(true);
    expect(ours.tensors.map((t) => t.name)).toEqual(ref.tensors.map((t) => t.name));
    for (const t of ref.tensors) {
      const o = ours.tensorsByName.get(t.name)!;
      expect(o.type, t.name).toBe(t.type);
      expect(o.dims, t.name).toEqual(t.dims.map((d) => (d === 400 ? TINY_HF_TEXT.vocab : d)));
    }
    expect(metaString(ours, 'tokenizer.chat_template')).toContain('ASSISTANT:');
    const tokens = metaArray(ours, 'tokenizer.ggml.tokens')!.items as string[];
    expect(tokens.length).toBe(TINY_HF_TEXT.vocab);
    expect(tokens[TINY_HF_TEXT.spmVocab]).toBe(ADDED_TOKENS[0]);
    expect(tokens[TINY_HF_TEXT.vocab - 1]).toBe(`[PAD${TINY_HF_TEXT.vocab - 1}]`);
    expect(metaNumber(ours, 'tokenizer.ggml.padding_token_id')).toBe(TINY_HF_TEXT.spmVocab + 1);

    const mm = await readGgufFile(r.mmproj);
    const mref = await readGgufFile(fx.pairF16.mmproj);
    expect([...mm.metadata.keys()].sort()).toEqual([...mref.metadata.keys()].sort());
    // The fixture has 2 vision blocks, the checkpoint 3: the first two match tensor for tensor.
    const mine = mm.tensors.map((t) => [t.name, t.dims, t.type]);
    expect(mine.filter(([n]) => !String(n).startsWith('v.blk.2.'))).toEqual(mref.tensors.map((t) => [t.name, t.dims, t.type]));
    // LLaVA reads layer 2 of 3 (vision_feature_layer -2); llama.cpp runs block_count - 1 blocks,
    // so all 3 are written and post_layernorm is not.
    expect(metaNumber(mm, 'clip.vision.block_count')).toBe(3);
    expect(mm.tensorsByName.has('v.blk.2.attn_q.weight')).toBe(true);
    expect([...mm.tensorsByName.keys()].some((n) => n.startsWith('v.post_ln'))).toBe(false);
    expect(metaString(mm, 'clip.projector_type')).toBe('mlp');
  });

  test('quantized outputs: 2-D weights in the block type, norms in F32, 4-bit files keep the head in Q8_0', async () => {
    const q4 = await readGgufFile((await convertLlava({ from: ckpt, outDir: path.join(dir, 'q4'), quant: 'q4_0', sync: false })).model);
    expect(q4.tensorsByName.get('blk.0.attn_q.weight')!.type).toBe(GgmlType.Q4_0);
    expect(q4.tensorsByName.get('token_embd.weight')!.type).toBe(GgmlType.Q4_0);
    expect(q4.tensorsByName.get('output.weight')!.type).toBe(GgmlType.Q8_0);
    expect(q4.tensorsByName.get('blk.0.attn_norm.weight')!.type).toBe(GgmlType.F32);
    expect(metaNumber(q4, 'general.file_type')).toBe(2);
    const r8 = await convertLlava({ from: ckpt, outDir: path.join(dir, 'q8'), quant: 'q8_0', mmprojType: 'f32', sync: false });
    const q8 = await readGgufFile(r8.model);
    const mm32 = await readGgufFile(r8.mmproj);
    expect(mm32.tensorsByName.get('v.blk.0.attn_q.weight')!.type).toBe(GgmlType.F32);
    expect(metaNumber(mm32, 'general.file_type')).toBe(0);
    expect(q8.tensorsByName.get('output.weight')!.type).toBe(GgmlType.Q8_0);
    expect(metaNumber(q8, 'general.file_type')).toBe(7);
  });
});

describe('Q4_K_M: the tensor types llama-quantize picks', () => {
  test('offered to the CLI and the UI', () => {
    expect(QUANTS).toContain('q4_k_m');
  });

  test("use_more_bits for FireLLaVA's 40 layers: the first and last 5, then every third", () => {
    const more = Array.from({ length: 40 }, (_, i) => i).filter((i) => useMoreBits(i, 40));
    expect(more).toEqual([0, 1, 2, 3, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34, 35, 36, 37, 38, 39]);
    expect([0, 1].filter((i) => useMoreBits(i, 2))).toEqual([1]);
  });

  test('256-wide rows: Q4_K, Q6_K for the head and for attn_v/ffn_down on use_more_bits layers, norms F32', async () => {
    const wide = path.join(dir, 'hf-wide');
    await writeHfCheckpoint(wide, { dtype: 'F16', text: { hidden: 256, ff: 512 } });
    const est = await estimateConversion(wide, path.join(dir, 'qkm'), 'q4_k_m');
    const r = await convertLlava({ from: wide, outDir: path.join(dir, 'qkm'), quant: 'q4_k_m', sync: false });
    const g = await readGgufFile(r.model);
    const type = (n: string): number | undefined => g.tensorsByName.get(n)?.type;
    expect(type('output.weight')).toBe(GgmlType.Q6_K);
    expect(type('token_embd.weight')).toBe(GgmlType.Q4_K);
    for (const t of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up']) {
      expect(type(`blk.0.${t}.weight`), t).toBe(GgmlType.Q4_K);
      expect(type(`blk.1.${t}.weight`), t).toBe(GgmlType.Q4_K);
    }
    expect([type('blk.0.attn_v.weight'), type('blk.1.attn_v.weight')]).toEqual([GgmlType.Q4_K, GgmlType.Q6_K]);
    expect([type('blk.0.ffn_down.weight'), type('blk.1.ffn_down.weight')]).toEqual([GgmlType.Q4_K, GgmlType.Q6_K]);
    expect(type('blk.0.attn_norm.weight')).toBe(GgmlType.F32);
    expect(metaNumber(g, 'general.file_type')).toBe(15); // LLAMA_FTYPE_MOSTLY_Q4_K_M
    expect(metaNumber(g, 'general.quantization_version')).toBe(2);
    expect(r.model).toMatch(/-q4_k_m\.gguf$/);
    expect(est.modelBytes).toBeGreaterThanOrEqual(r.modelBytes);
    expect(est.modelBytes - r.modelBytes).toBeLessThan(5 * 1024 * 1024);
  });

  test('64-wide rows fall back as llama.cpp does: Q4_K -> Q5_0, Q6_K -> Q8_0', async () => {
    const g = await readGgufFile((await convertLlava({ from: ckpt, outDir: path.join(dir, 'qkm64'), quant: 'q4_k_m', sync: false })).model);
    const type = (n: string): number | undefined => g.tensorsByName.get(n)?.type;
    expect(type('blk.0.attn_q.weight')).toBe(GgmlType.Q5_0);
    expect(type('token_embd.weight')).toBe(GgmlType.Q5_0);
    expect(type('output.weight')).toBe(GgmlType.Q8_0);
    expect([type('blk.0.attn_v.weight'), type('blk.1.attn_v.weight')]).toEqual([GgmlType.Q5_0, GgmlType.Q8_0]);
    expect([type('blk.0.ffn_down.weight'), type('blk.1.ffn_down.weight')]).toEqual([GgmlType.Q5_0, GgmlType.Q8_0]);
    expect(metaNumber(g, 'general.file_type')).toBe(15);
  });
});

describe('rotary permutation', () => {
  test('HF rotate_half on the original rows equals adjacent-pair rotation on the permuted rows', () => {
    const headDim = 8;
    const heads = 2;
    const rowLength = 3;
    const w = Float32Array.from({ length: heads * headDim * rowLength }, (_, i) => Math.sin(i * 1.7) * 3);
    const x = [0.3, -1.2, 2];
    const project = (m: Float32Array): number[] => Array.from({ length: heads * headDim }, (_, r) => x.reduce((s, v, c) => s + v * (m[r * rowLength + c] as number), 0));
    const pos = 5;
    const angle = (i: number): number => pos * 10000 ** ((-2 * i) / headDim);
    const hf = project(w);
    const gg = project(permuteRotaryRows(w, heads * headDim, rowLength, headDim));
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < headDim / 2; i++) {
        const [c, s] = [Math.cos(angle(i)), Math.sin(angle(i))];
        const a = hf[h * headDim + i]!;
        const b = hf[h * headDim + i + headDim / 2]!;
        const p = gg[h * headDim + 2 * i]!;
        const q = gg[h * headDim + 2 * i + 1]!;
        // Same rotated pair, just stored at (2i, 2i+1) instead of (i, i + d/2).
        expect(p * c - q * s).toBeCloseTo(a * c - b * s, 5);
        expect(q * c + p * s).toBeCloseTo(b * c + a * s, 5);
      }
    }
    expect(() => permuteRotaryRows(w, 12, rowLength, headDim)).toThrow(/whole heads/);
  });
});

describe('tokenizer.model', () => {
  test('round trip keeps pieces, scores, types and negative ids; unknown fields are skipped', () => {
    const m = {
      pieces: ['<unk>', '<s>', '</s>', '<0x41>', '\u2581h\u00e9llo', 'x'],
      scores: [0, 0, 0, 0, -1.5, -2.25],
      types: [PieceType.UNKNOWN, PieceType.CONTROL, PieceType.CONTROL, PieceType.BYTE, PieceType.NORMAL, PieceType.USER_DEFINED],
      modelType: 2,
      unkId: 0,
      bosId: 1,
      eosId: 2,
      padId: -1,
      byteFallback: true,
      addDummyPrefix: false,
    };
    const bytes = encodeSentencePieceModel(m);
    expect(parseSentencePieceModel(bytes)).toEqual(m);
    // A field this parser does not know (ModelProto field 5, length-delimited) is skipped.
    const extra = Uint8Array.from([...bytes, (5 << 3) | 2, 3, 1, 2, 3]);
    expect(parseSentencePieceModel(extra).pieces).toEqual(m.pieces);
  });

  test('truncated or foreign files are refused', () => {
    const bytes = encodeSentencePieceModel({ pieces: ['a', 'b'], scores: [0, 0], types: [1, 1], modelType: 1, unkId: 0, bosId: 1, eosId: 2, padId: -1, byteFallback: false, addDummyPrefix: true });
    expect(() => parseSentencePieceModel(bytes.subarray(0, bytes.length - 7))).toThrow();
    expect(() => parseSentencePieceModel(new TextEncoder().encode('{"version": "1.0"}'))).toThrow();
  });
});

describe('progress, cancel and estimate', () => {
  test('progress runs inspect -> convert -> verify -> ready with growing byte counts', async () => {
    const events: ConvertProgress[] = [];
    const r = await convertLlava({ from: ckpt, outDir: path.join(dir, 'progress'), quant: 'q8_0', sync: false, chunkElements: 1024, onProgress: (p) => events.push(p) });
    const phases = events.map((e) => e.phase).filter((p, i, a) => p !== a[i - 1]);
    expect(phases).toEqual(['inspect', 'convert', 'verify', 'ready']);
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytesDone).toBeGreaterThanOrEqual(events[i - 1]!.bytesDone);
    const last = events[events.length - 1]!;
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.tensorsDone).toBe(last.tensorsTotal);
    expect(r.inputBytes).toBe(last.bytesTotal);
  });

  test('cancel mid-way deletes the partial file and leaves no finished-looking output', async () => {
    const out = path.join(dir, 'cancel');
    const ac = new AbortController();
    let seen = 0;
    const err = await convertLlava({
      from: ckpt,
      outDir: out,
      quant: 'f16',
      sync: false,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.phase === 'convert' && ++seen === 5) ac.abort();
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as CheckpointError).code).toBe('CANCELLED');
    expect(await readdir(out)).toEqual([]);
  });

  test('disk estimate matches the sizes actually written', async () => {
    const est = await estimateConversion(ckpt, path.join(dir, 'estimate'), 'q4_0');
    expect(existsSync(path.join(dir, 'estimate'))).toBe(false); // estimating creates nothing
    const r = await convertLlava({ from: ckpt, outDir: path.join(dir, 'estimate'), quant: 'q4_0', sync: false });
    expect(est.modelBytes).toBeGreaterThanOrEqual(r.modelBytes);
    expect(est.modelBytes - r.modelBytes).toBeLessThan(5 * 1024 * 1024);
    expect(est.mmprojBytes).toBeGreaterThanOrEqual(r.mmprojBytes);
    expect(est.enoughSpace).toBe(true);
    expect(est.freeBytes).toBeGreaterThan(0);
  });
});

describe('clear refusals', () => {
  test('a folder without config.json, and a plain LLaMA checkpoint, are not LLaVA', async () => {
    const empty = path.join(dir, 'empty');
    await rm(empty, { recursive: true, force: true });
    await writeHfCheckpoint(empty);
    await rm(path.join(empty, 'config.json'));
    await expectRefusal(empty, 'NOT_LLAVA', /config\.json is missing/);

    const llama = await copyCheckpoint('llama');
    await writeFile(path.join(llama, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama' }));
    await expectRefusal(llama, 'NOT_LLAVA', /"llama" model, not LLaVA/);

    const noWeights = path.join(dir, 'no-weights');
    await rm(noWeights, { recursive: true, force: true });
    await mkdir(noWeights);
    await copyFile(path.join(ckpt, 'config.json'), path.join(noWeights, 'config.json'));
    await expectRefusal(noWeights, 'NOT_LLAVA', /no model\.safetensors/);
  });

  test('a missing shard is named', async () => {
    const c = await copyCheckpoint('missing-shard');
    await rm(path.join(c, 'model-00002-of-00003.safetensors'));
    await expectRefusal(c, 'MISSING_SHARD', /model-00002-of-00003\.safetensors/);
  });

  test('a truncated shard is refused before anything is written', async () => {
    const c = await copyCheckpoint('truncated');
    const shard = path.join(c, 'model-00003-of-00003.safetensors');
    await truncate(shard, (await readFile(shard)).length - 100);
    await expectRefusal(c, 'BAD_FILE', /truncated/);
  });

  test('a tensor whose shape disagrees with config.json is named with both shapes', async () => {
    const c = await copyCheckpoint('bad-shape');
    const cfg = JSON.parse(await readFile(path.join(c, 'config.json'), 'utf8')) as { text_config: { intermediate_size: number } };
    cfg.text_config.intermediate_size = 96;
    await writeFile(path.join(c, 'config.json'), JSON.stringify(cfg));
    await expectRefusal(c, 'BAD_SHAPE', /mlp\.gate_proj\.weight: \[128, 64\], expected \[96, 64\]/);
  });

  test('a missing or broken tokenizer.model is refused', async () => {
    const c = await copyCheckpoint('no-tokenizer');
    await rm(path.join(c, 'tokenizer.model'));
    await expectRefusal(c, 'NOT_LLAVA', /tokenizer\.model is missing/);
    await writeFile(path.join(c, 'tokenizer.model'), Buffer.from('not a protobuf at all'));
    await expectRefusal(c, 'BAD_FILE', /not a SentencePiece model/);
  });

  test('LLaVA variants the engine cannot run are refused with the reason', async () => {
    const c = await copyCheckpoint('variants');
    const cfgPath = path.join(c, 'config.json');
    const base = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cfgPath, JSON.stringify({ ...base, vision_feature_layer: -1 }));
    await expectRefusal(c, 'NOT_LLAVA', /vision_feature_layer -1 \(the last layer\)/);
    await writeFile(cfgPath, JSON.stringify({ ...base, vision_feature_select_strategy: 'full' }));
    await expectRefusal(c, 'NOT_LLAVA', /vision_feature_select_strategy "full"/);
    await writeFile(cfgPath, JSON.stringify({ ...base, architectures: ['LlavaNextForConditionalGeneration'] }));
    await expectRefusal(c, 'NOT_LLAVA', /LLaVA-NeXT/);
  });

  test('non-float tensors (int64 position_ids of older CLIP checkpoints) are skipped, or named if needed', async () => {
    const ck = await openCheckpoint(ckpt);
    expect(ck.other.get('vision_tower.vision_model.embeddings.position_ids')).toBe('I64');
    expect(() => requireTensor(ck, 'vision_tower.vision_model.embeddings.position_ids')).toThrow(/stored as I64; only F32, F16 and BF16/);
    expect(() => requireTensor(ck, 'no.such.tensor')).toThrow(/missing from the checkpoint/);
  });

  test('an unknown quantization is refused', async () => {
    await expect(convertLlava({ from: ckpt, outDir: path.join(dir, 'q'), quant: 'q5_k' as never })).rejects.toThrow(/unknown quantization/);
  });
});
