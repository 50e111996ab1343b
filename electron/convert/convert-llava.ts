// LLaVA-1.5 Hugging Face checkpoint -> the GGUF pair the engine runs: a "llama" language model
// (F32/F16/Q8_0/Q4_0/Q4_K_M) and a "clip" mmproj with the mlp projector (F16). Tensors stream one row
// block at a time from the shards through the quantizer into GgufWriter, so memory stays at a
// few chunk buffers whatever the model size. Keys and tensor names follow llama.cpp
// (convert_hf_to_gguf.py, tools/mtmd) and match electron/fixtures/tiny-llava.ts.
import { mkdir, rm, statfs } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GgmlType, LlamaFileType, tensorByteSize } from '../gguf/ggml-types';
import { GgufWriter, kv, type GgufTensorSpec } from '../gguf/gguf-writer';
import type { GgufKv } from '../gguf/gguf-reader';
import { validateModelPair } from '../engine/model-validator';
import { expectShape, readLlavaCheckpoint, type LlavaCheckpoint } from './llava-checkpoint';
import { ChunkBuffers, createEncodePool, encodeTask, type EncodePool } from './encode-pool';
import { permuteRotaryRows } from './permute';
import { CheckpointError, TensorReader, openCheckpoint, requireTensor, type CheckpointTensor } from './safetensors';
import { clipMetadata } from '../gguf/clip-metadata';
import { llamaMetadata } from '../gguf/llama-metadata';

export { permuteRotaryRows };

export const QUANTS = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k_m'] as const;
export type Quant = (typeof QUANTS)[number];

/** llama_ftype numbers for general.file_type. */
const FILE_TYPE: Record<Quant, number> = {
  f32: LlamaFileType.ALL_F32,
  f16: LlamaFileType.MOSTLY_F16,
  q4_0: LlamaFileType.MOSTLY_Q4_0,
  q8_0: LlamaFileType.MOSTLY_Q8_0,
  q4_k_m: LlamaFileType.MOSTLY_Q4_K_M,
};

/** FireLLaVA's conversation format (what electron/engine/prompt-format.ts builds), for other tools. */
export const FIRELLAVA_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}\n\n" +
  "{% elif message['role'] == 'user' %}USER: {{ message['content'] }}\n" +
  "{% elif message['role'] == 'assistant' %}ASSISTANT: {{ message['content'] }}</s>\n" +
  '{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}';

export type ConvertPhase = 'inspect' | 'convert' | 'verify' | 'ready';

export interface ConvertProgress {
  phase: ConvertPhase;
  /** Which output is being written (convert phase). */
  file?: 'model' | 'mmproj';
  tensor?: string;
  tensorsDone: number;
  tensorsTotal: number;
  /** Source bytes read so far / in all converted tensors. */
  bytesDone: number;
  bytesTotal: number;
}

export interface ConvertOptions {
  from: string;
  outDir: string;
  quant: Quant;
  /** Vision projector matrices (default f16, what llama.cpp's converters write). */
  mmprojType?: 'f16' | 'f32';
  /** Output file names (defaults: <name>-<quant>.gguf and mmproj-<name>-<mmprojType>.gguf). */
  modelFileName?: string;
  mmprojFileName?: string;
  signal?: AbortSignal;
  onProgress?: (p: ConvertProgress) => void;
  /** fsync before the rename (default true). */
  sync?: boolean;
  /** Rows per chunk are chosen to stay near this many elements (default 4M). */
  chunkElements?: number;
  /** Test-only: skip the Q/K rotary permutation, producing a wrong model (negative control). */
  unsafeSkipRotaryPermutation?: boolean;
  /** Skip free-space check (tests on tmpfs). */
  skipSpaceCheck?: boolean;
  /**
   * Quantize/convert chunks in this many worker threads (needs encodeWorkerEntry); 0 or absent
   * encodes on the converting thread.
   */
  encodeWorkers?: number;
  /** Bundled worker file that serves encode tasks (dist/convert/convert-worker.cjs). */
  encodeWorkerEntry?: string;
}

export interface ConvertResult {
  model: string;
  mmproj: string;
  modelBytes: number;
  mmprojBytes: number;
  inputBytes: number;
  seconds: number;
}

interface TensorJob extends GgufTensorSpec {
  src: CheckpointTensor;
  /** Heads to permute rows for (q_proj: n_head, k_proj: n_head_kv). */
  permuteHeads?: number;
}

// ---------------------------------------------------------------------------------------------
// planning

function ggufDims(shape: number[]): number[] {
  return shape.length === 0 ? [1] : [...shape].reverse();
}

/** llama.cpp's use_more_bits: the first and last eighth of the layers and every third between. */
export function useMoreBits(layer: number, layers: number): boolean {
  const e = Math.floor(layers / 8);
  return layer < e || layer >= Math.floor((7 * layers) / 8) || (layer - e) % 3 === 2;
}

/**
 * What llama-quantize does when a row length is not a whole number of the type's blocks
 * (tensor_type_fallback): Q4_K -> Q5_0, Q6_K -> Q8_0, and F16 when even 32 does not divide it.
 */
function withFallback(type: number, rowLength: number): number {
  if (type === GgmlType.Q4_K || type === GgmlType.Q6_K) {
    if (rowLength % 256 === 0) return type;
    type = type === GgmlType.Q4_K ? GgmlType.Q5_0 : GgmlType.Q8_0;
  }
  return rowLength % 32 === 0 ? type : GgmlType.F16;
}

/** Type of a language-model tensor; `layer` of `layers` for blk.N tensors. */
export function textType(quant: Quant, name: string, dims: number[], layer = 0, layers = 1): number {
  if (dims.length < 2 || quant === 'f32') return GgmlType.F32;
  if (quant === 'f16') return GgmlType.F16;
  const rowLength = dims[0] as number;
  if (quant === 'q8_0') return withFallback(GgmlType.Q8_0, rowLength);
  // Q4_0 files keep the output head in Q8_0 (llama.cpp uses Q6_K there).
  if (quant === 'q4_0') return withFallback(name === 'output.weight' ? GgmlType.Q8_0 : GgmlType.Q4_0, rowLength);
  // Q4_K_M as llama.cpp's llama_tensor_get_type picks it for LLaMA (no importance matrix): the
  // head in Q6_K (Q8_0 when its rows are not whole super-blocks), attn_v and ffn_down in Q6_K on
  // the use_more_bits layers, everything else (token_embd included: the head is not tied) Q4_K.
  if (name === 'output.weight') return withFallback(rowLength % 256 === 0 ? GgmlType.Q6_K : GgmlType.Q8_0, rowLength);
  if ((name.endsWith('.attn_v.weight') || name.endsWith('.ffn_down.weight')) && useMoreBits(layer, layers)) return withFallback(GgmlType.Q6_K, rowLength);
  return withFallback(GgmlType.Q4_K, rowLength);
}

function planText(m: LlavaCheckpoint, quant: Quant): TensorJob[] {
  const { text: h, layout: L, checkpoint: c } = m;
  const hd = h.hidden / h.heads;
  const kvDim = hd * h.kvHeads;
  const jobs: TensorJob[] = [];
  let layer = 0;
  const add = (name: string, srcName: string, shape: number[], permuteHeads?: number): void => {
    const src = requireTensor(c, srcName);
    expectShape(src, shape);
    const dims = ggufDims(shape);
    jobs.push({ name, dims, type: textType(quant, name, dims, layer, h.layers), src, ...(permuteHeads ? { permuteHeads } : {}) });
  };
  add('token_embd.weight', `${L.lm}embed_tokens.weight`, [h.vocab, h.hidden]);
  for (let i = 0; i < h.layers; i++) {
    layer = i;
    const p = `${L.lm}layers.${i}.`;
    const b = `blk.${i}.`;
    add(`${b}attn_norm.weight`, `${p}input_layernorm.weight`, [h.hidden]);
    add(`${b}attn_q.weight`, `${p}self_attn.q_proj.weight`, [h.hidden, h.hidden], h.heads);
    add(`${b}attn_k.weight`, `${p}self_attn.k_proj.weight`, [kvDim, h.hidden], h.kvHeads);
    add(`${b}attn_v.weight`, `${p}self_attn.v_proj.weight`, [kvDim, h.hidden]);
    add(`${b}attn_output.weight`, `${p}self_attn.o_proj.weight`, [h.hidden, h.hidden]);
    add(`${b}ffn_norm.weight`, `${p}post_attention_layernorm.weight`, [h.hidden]);
    add(`${b}ffn_gate.weight`, `${p}mlp.gate_proj.weight`, [h.ff, h.hidden]);
    add(`${b}ffn_up.weight`, `${p}mlp.up_proj.weight`, [h.ff, h.hidden]);
    add(`${b}ffn_down.weight`, `${p}mlp.down_proj.weight`, [h.hidden, h.ff]);
  }
  add('output_norm.weight', `${L.lm}norm.weight`, [h.hidden]);
  add('output.weight', L.lmHead, [h.vocab, h.hidden]);
  return jobs;
}

/** Blocks written to the mmproj (and its clip.vision.block_count). */
export function mmprojBlocks(v: LlavaCheckpoint['vision']): number {
  return v.usedLayers + 1;
}

function planMmproj(m: LlavaCheckpoint, matrixType: number = GgmlType.F16): TensorJob[] {
  const { vision: v, text, layout: L, checkpoint: c } = m;
  const e = v.hidden;
  const nPos = (v.imageSize / v.patchSize) ** 2 + 1;
  const jobs: TensorJob[] = [];
  const add = (name: string, srcName: string, shape: number[]): void => {
    const src = requireTensor(c, srcName);
    expectShape(src, shape);
    const dims = ggufDims(shape);
    jobs.push({ name, dims, type: dims.length >= 2 ? matrixType : GgmlType.F32, src });
  };
  const P = L.projector;
  add('mm.0.weight', `${P}linear_1.weight`, [text.hidden, e]);
  add('mm.0.bias', `${P}linear_1.bias`, [text.hidden]);
  add('mm.2.weight', `${P}linear_2.weight`, [text.hidden, text.hidden]);
  add('mm.2.bias', `${P}linear_2.bias`, [text.hidden]);
  const V = L.vision;
  add('v.class_embd', `${V}embeddings.class_embedding`, [e]);
  add('v.patch_embd.weight', `${V}embeddings.patch_embedding.weight`, [e, 3, v.patchSize, v.patchSize]);
  add('v.position_embd.weight', `${V}embeddings.position_embedding.weight`, [nPos, e]);
  add('v.pre_ln.weight', `${V}pre_layrnorm.weight`, [e]);
  add('v.pre_ln.bias', `${V}pre_layrnorm.bias`, [e]);
  // llama.cpp's LLaVA graph runs block_count - 1 blocks (it assumes the file holds the whole
  // tower and LLaVA's -2 feature layer), so one block more than LLaVA uses is written. The old
  // Python converter dropped the last block as well, which made llama.cpp skip two.
  // post_layernorm is never applied to LLaVA's features: not written.
  for (let i = 0; i < mmprojBlocks(v); i++) {
    const p = `${V}encoder.layers.${i}.`;
    const b = `v.blk.${i}.`;
    for (const [to, from] of [['attn_q', 'q_proj'], ['attn_k', 'k_proj'], ['attn_v', 'v_proj'], ['attn_out', 'out_proj']] as const) {
      add(`${b}${to}.weight`, `${p}self_attn.${from}.weight`, [e, e]);
      add(`${b}${to}.bias`, `${p}self_attn.${from}.bias`, [e]);
    }
    add(`${b}ln1.weight`, `${p}layer_norm1.weight`, [e]);
    add(`${b}ln1.bias`, `${p}layer_norm1.bias`, [e]);
    add(`${b}ffn_up.weight`, `${p}mlp.fc1.weight`, [v.ff, e]);
    add(`${b}ffn_up.bias`, `${p}mlp.fc1.bias`, [v.ff]);
    add(`${b}ffn_down.weight`, `${p}mlp.fc2.weight`, [e, v.ff]);
    add(`${b}ffn_down.bias`, `${p}mlp.fc2.bias`, [e]);
    add(`${b}ln2.weight`, `${p}layer_norm2.weight`, [e]);
    add(`${b}ln2.bias`, `${p}layer_norm2.bias`, [e]);
  }
  return jobs;
}

function textMetadata(m: LlavaCheckpoint, quant: Quant): GgufKv[] {
  const { text: h, vocab } = m;
  const out: GgufKv[] = [
    ...llamaMetadata(
      {
        architecture: 'llama',
        name: m.name,
        fileType: FILE_TYPE[quant],
        nVocab: h.vocab,
        nCtx: h.ctx,
        nEmbd: h.hidden,
        nLayer: h.layers,
        nFf: h.ff,
        nHead: h.heads,
        nHeadKv: h.kvHeads,
        rmsEps: h.eps,
        ropeFreqBase: h.ropeTheta,
      },
      vocab,
    ),
    kv.str('tokenizer.chat_template', FIRELLAVA_CHAT_TEMPLATE),
  ];
  if (vocab.padId !== null) out.push(kv.u32('tokenizer.ggml.padding_token_id', vocab.padId));
  if (quant !== 'f32' && quant !== 'f16') out.push(kv.u32('general.quantization_version', 2));
  return out;
}

function mmprojMetadata(m: LlavaCheckpoint, mmprojType: 'f16' | 'f32'): GgufKv[] {
  const v = m.vision;
  return clipMetadata({
    name: `${m.name} vision projector`,
    description: 'image encoder for LLaVA',
    fileType: FILE_TYPE[mmprojType],
    useGelu: v.useGelu,
    imageSize: v.imageSize,
    patchSize: v.patchSize,
    nEmbd: v.hidden,
    nFf: v.ff,
    projectionDim: m.text.hidden,
    nHead: v.heads,
    eps: v.eps,
    nLayer: mmprojBlocks(v),
    imageMean: v.imageMean,
    imageStd: v.imageStd,
  });
}

// ---------------------------------------------------------------------------------------------
// estimate

export interface ConversionPlan {
  checkpoint: LlavaCheckpoint;
  text: TensorJob[];
  mmproj: TensorJob[];
  /** Source bytes of all converted tensors. */
  inputBytes: number;
  /** Output sizes (tensor data plus a generous header allowance). */
  modelBytes: number;
  mmprojBytes: number;
}

const HEADER_ALLOWANCE = 4 * 1024 * 1024;

export async function planConversion(from: string, quant: Quant, mmprojType: 'f16' | 'f32' = 'f16'): Promise<ConversionPlan> {
  if (!QUANTS.includes(quant)) throw new CheckpointError(`unknown quantization "${String(quant)}" (use ${QUANTS.join(', ')})`, 'NOT_LLAVA');
  const checkpoint = await readLlavaCheckpoint(from, await openCheckpoint(from));
  const text = planText(checkpoint, quant);
  const mmproj = planMmproj(checkpoint, mmprojType === 'f32' ? GgmlType.F32 : GgmlType.F16);
  const sum = (jobs: TensorJob[]): number => jobs.reduce((s, j) => s + tensorByteSize(j.type, j.dims) + 32, 0);
  return {
    checkpoint,
    text,
    mmproj,
    inputBytes: [...text, ...mmproj].reduce((s, j) => s + j.src.byteSize, 0),
    modelBytes: sum(text) + HEADER_ALLOWANCE,
    mmprojBytes: sum(mmproj) + HEADER_ALLOWANCE,
  };
}

export interface DiskEstimate {
  /** Size of the checkpoint's tensors (what a download needs). */
  inputBytes: number;
  modelBytes: number;
  mmprojBytes: number;
  /** Free bytes where the output goes, or null when unknown. */
  freeBytes: number | null;
  enoughSpace: boolean;
}

async function freeBytesAt(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

export async function estimateConversion(from: string, outDir: string, quant: Quant): Promise<DiskEstimate> {
  const plan = await planConversion(from, quant);
  // The output folder may not exist yet: ask the nearest folder that does (creates nothing).
  let probe = resolve(outDir);
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  const freeBytes = await freeBytesAt(probe);
  const need = plan.modelBytes + plan.mmprojBytes;
  return { inputBytes: plan.inputBytes, modelBytes: plan.modelBytes, mmprojBytes: plan.mmprojBytes, freeBytes, enoughSpace: freeBytes === null || freeBytes >= need };
}

// ---------------------------------------------------------------------------------------------
// conversion

function safeName(s: string): string {
  return s.split(/[\\/]/).filter(Boolean).pop()!.replace(/[^A-Za-z0-9._-]+/g, '-') || 'llava';
}

export async function convertLlava(options: ConvertOptions): Promise<ConvertResult> {
  const started = performance.now();
  const { signal, onProgress, quant } = options;
  const checkCancel = (): void => {
    if (signal?.aborted) throw new CheckpointError('conversion cancelled', 'CANCELLED');
  };
  checkCancel();
  const plan = await planConversion(options.from, quant, options.mmprojType);
  const m = plan.checkpoint;
  const total = plan.text.length + plan.mmproj.length;
  let tensorsDone = 0;
  let bytesDone = 0;
  const emit = (p: Partial<ConvertProgress> & { phase: ConvertPhase }): void =>
    onProgress?.({ tensorsDone, tensorsTotal: total, bytesDone, bytesTotal: plan.inputBytes, ...p });
  emit({ phase: 'inspect' });

  await mkdir(options.outDir, { recursive: true });
  if (!options.skipSpaceCheck) {
    const free = await freeBytesAt(options.outDir);
    const need = plan.modelBytes + plan.mmprojBytes;
    if (free !== null && free < need) {
      throw new CheckpointError(`not enough disk space in ${options.outDir}: need ${(need / 1e9).toFixed(2)} GB, ${(free / 1e9).toFixed(2)} GB free`, 'NO_SPACE');
    }
  }
  const base = safeName(m.name);
  const modelPath = join(options.outDir, options.modelFileName ?? `${base}-${quant}.gguf`);
  const mmprojPath = join(options.outDir, options.mmprojFileName ?? `mmproj-${base}-${options.mmprojType ?? 'f16'}.gguf`);
  // A stale pair from an earlier run must not look finished while this one is under way.
  await rm(modelPath, { force: true });
  await rm(mmprojPath, { force: true });

  const reader = new TensorReader();
  const pool: EncodePool | undefined =
    options.encodeWorkers && options.encodeWorkers > 0 && options.encodeWorkerEntry ? createEncodePool(options.encodeWorkerEntry, options.encodeWorkers) : undefined;
  const chunkElements = options.chunkElements ?? 4 * 1024 * 1024;
  const buffers = pool?.buffers ?? new ChunkBuffers(2);
  const writeFile = async (path: string, file: 'model' | 'mmproj', metadata: GgufKv[], jobs: TensorJob[]): Promise<void> => {
    const w = await GgufWriter.create(path, metadata, jobs, { sync: options.sync ?? true });
    // One chunk stream for the whole file, so the encoders already work on the next tensor
    // while the last chunks of this one are written (13B tensors are only ~7 chunks long).
    const stream = encodedChunks(jobs)[Symbol.asyncIterator]();
    try {
      for (const job of jobs) {
        checkCancel();
        emit({ phase: 'convert', file, tensor: job.name });
        await w.writeTensor(job.name, take(stream, chunkPlan(job).count));
        tensorsDone++;
      }
      await w.finish();
    } catch (err) {
      await w.abort();
      throw err;
    }
  };

  async function* take(stream: AsyncIterator<Uint8Array>, count: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < count; i++) {
      const r = await stream.next();
      if (r.done) throw new Error('internal: the chunk stream ended early');
      yield r.value;
    }
  }

  function chunkPlan(job: TensorJob) {
    const t = job.src;
    const rows = t.shape.length >= 2 ? (t.shape[0] as number) : 1;
    const rowLength = t.shape.length >= 2 ? t.shape.slice(1).reduce((a, b) => a * b, 1) : t.shape.reduce((a, b) => a * b, 1);
    const readAs: CheckpointTensor = t.shape.length >= 2 ? t : { ...t, shape: [1, rowLength] };
    const headDim = job.permuteHeads ? rows / job.permuteHeads : 0;
    let step = Math.max(1, Math.floor(chunkElements / rowLength));
    if (headDim) step = Math.max(headDim, step - (step % headDim));
    // Same type in and out (F16 -> F16, F32 -> F32): bytes pass through, rows reordered as bytes.
    const passthrough = (t.dtype === 'F16' && job.type === GgmlType.F16) || (t.dtype === 'F32' && job.type === GgmlType.F32);
    return { t, rows, rowLength, readAs, headDim, step, passthrough, count: Math.ceil(rows / step) };
  }

  /** Every chunk of every job, encoded, in order. */
  async function* encodedChunks(jobs: TensorJob[]): AsyncGenerator<Uint8Array> {
    let permutedBytes = new Uint8Array(0);
    const inflight: Promise<Uint8Array>[] = [];
    for (const job of jobs) {
      const { t, rows, rowLength, readAs, headDim, step, passthrough } = chunkPlan(job);
      const eb = t.dtype === 'F32' ? 4 : 2;
      for (let r = 0; r < rows; r += step) {
        checkCancel();
        const n = Math.min(step, rows - r);
        if (passthrough) {
          // Its bytes are a view of the reader's buffer: everything queued goes first.
          while (inflight.length) yield await (inflight.shift() as Promise<Uint8Array>);
          const raw = await reader.readRawRows(readAs, r, n);
          bytesDone += (t.byteSize * n) / rows;
          if (headDim && !options.unsafeSkipRotaryPermutation) {
            if (permutedBytes.length !== raw.length) permutedBytes = new Uint8Array(raw.length);
            permuteRotaryRows(raw, n, rowLength * eb, headDim, permutedBytes);
            yield permutedBytes;
          } else {
            yield raw;
          }
          continue;
        }
        const bytes = (t.byteSize * n) / rows;
        const task = {
          dtype: t.dtype,
          type: job.type,
          // Our own buffer (the reader's is reused), recycled once the chunk is written.
          raw: await reader.readRawRows(readAs, r, n, buffers.take(bytes)),
          rows: n,
          rowLength,
          headDim: options.unsafeSkipRotaryPermutation ? 0 : headDim,
        };
        bytesDone += bytes;
        if (pool) {
          const done = pool.encode(task);
          done.catch(() => undefined); // a failure is reported where it is awaited, not as unhandled
          inflight.push(done);
          // Two chunks queued per worker: reading and writing the next chunks (one thread, in
          // turn) must not leave a worker idle. Memory stays a few chunks per worker.
          if (inflight.length > 2 * pool.size) yield* written(await (inflight.shift() as Promise<Uint8Array>));
        } else {
          yield* written(encodeTask(task, true));
        }
      }
    }
    while (inflight.length) yield* written(await (inflight.shift() as Promise<Uint8Array>));
  }

  /** Yields a chunk, then (once the writer has taken it) keeps its buffer for the next reads. */
  function* written(chunk: Uint8Array): Generator<Uint8Array> {
    yield chunk;
    buffers.give(chunk.buffer);
  }

  try {
    await writeFile(modelPath, 'model', textMetadata(m, quant), plan.text);
    await writeFile(mmprojPath, 'mmproj', mmprojMetadata(m, options.mmprojType ?? 'f16'), plan.mmproj);
  } catch (err) {
    await reader.close();
    await pool?.close();
    await rm(modelPath, { force: true });
    await rm(mmprojPath, { force: true });
    throw err;
  }
  await reader.close();
  await pool?.close();

  emit({ phase: 'verify' });
  const check = await validateModelPair({ model: modelPath, mmproj: mmprojPath });
  if (!check.ok) {
    await rm(modelPath, { force: true });
    await rm(mmprojPath, { force: true });
    throw new Error(`the converted pair failed validation: ${check.error.message}`);
  }
  emit({ phase: 'ready' });
  return {
    model: modelPath,
    mmproj: mmprojPath,
    modelBytes: check.value.model.fileBytes,
    mmprojBytes: check.value.mmproj?.fileBytes ?? 0,
    inputBytes: plan.inputBytes,
    seconds: (performance.now() - started) / 1000,
  };
}
