import { basename, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateModelFile, validateModelPair } from '../../electron/engine/model-validator';
import { readGgufFile } from '../../electron/gguf/gguf-reader';
import {
  mmprojMetadata,
  mmprojTensors,
  textModelMetadata,
  textModelTensors,
  writeMmproj,
  TINY_TEXT,
  TINY_VISION,
} from '../../electron/fixtures/tiny-llava';
import { tensorByteSize } from '../../electron/gguf/ggml-types';
import type { GgufKv } from '../../electron/gguf/gguf-reader';
import { writeGgufFile, type GgufTensorSpec } from '../../electron/gguf/gguf-writer';
import type { AppError, Result } from '../../electron/shared/errors';
import { getFixtures, type Fixtures } from '../helpers/fixtures';

const VISION = { ...TINY_VISION, projectorWidth: 64, projectionDim: 64 };
let fx: Fixtures;
let dir: string;

beforeAll(async () => {
  fx = await getFixtures();
  dir = await mkdtemp(join(tmpdir(), 'validator-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function errorOf<T>(r: Result<T>): AppError {
  if (r.ok) throw new Error('expected a failure');
  expect(r.error.code).toBe('MODEL_INVALID');
  return r.error;
}

describe('validateModelPair', () => {
  it('describes the tiny pair', async () => {
    const r = await validateModelPair(fx.pair);
    if (!r.ok) throw new Error(r.error.message);
    const { model, mmproj } = r.value;
    expect(model).toMatchObject({
      path: fx.pair.model,
      name: 'tiny-llava-text',
      architecture: 'llama',
      nEmbd: 64,
      nLayer: 2,
      nHead: 4,
      nHeadKv: 4,
      nFf: 128,
      nCtxTrain: 512,
      nVocab: 400,
    });
    // F32: per layer 2 norms of 64 + q,k,v,o 64x64 + 3 ffn 64x128.
    const layer = (2 * 64 + 4 * 64 * 64 + 3 * 64 * 128) * 4;
    expect(model.layerBytes).toEqual([layer, layer]);
    expect(model.tokenEmbdBytes).toBe(64 * 400 * 4);
    expect(model.outputBytes).toBe(64 * 4 + 64 * 400 * 4);
    expect(model.nonLayerBytes).toBe(64 * 400 * 4 * 2 + 64 * 4);
    expect(model.tensorBytes).toBe(model.nonLayerBytes + 2 * layer);
    const g = await readGgufFile(fx.pair.model);
    expect(model.fileBytes).toBe(g.fileBytes);
    expect(mmproj).toMatchObject({
      path: fx.pair.mmproj,
      projectorType: 'mlp',
      imageSize: 28,
      patchSize: 14,
      projectionDim: 64,
      metadataProjectionDim: 64,
      visionEmbd: 32,
      visionLayers: 2,
    });
  });

  it('counts F16 layer bytes', async () => {
    const r = await validateModelPair(fx.pairF16);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.model.layerBytes[0]).toBe(2 * 64 * 4 + (4 * 64 * 64 + 3 * 64 * 128) * 2);
  });

  it('accepts a text-only load', async () => {
    const r = await validateModelPair({ model: fx.pair.model, mmproj: null });
    expect(r.ok && r.value.mmproj).toBe(null);
  });

  it('rejects a projector of the wrong width', async () => {
    const e = errorOf(await validateModelPair({ model: fx.pair.model, mmproj: fx.broken.mismatchedMmproj }));
    expect(e.message).toBe(
      `vision projector ${basename(fx.broken.mismatchedMmproj)} outputs 128-wide embeddings but model ${basename(fx.pair.model)} is 64 wide: they are not a pair`,
    );
    expect(e.detail).toContain(fx.broken.mismatchedMmproj);
    expect(e.detail).toContain(fx.pair.model);
  });

  it('spots swapped files', async () => {
    const e = errorOf(await validateModelPair({ model: fx.pair.mmproj, mmproj: fx.pair.model }));
    expect(e.message).toMatch(/^the model and vision projector are swapped: mmproj-f32\.gguf is the vision projector and model-f32\.gguf is the model$/);
  });

  it('says when an mmproj is given as the model', async () => {
    const e = errorOf(await validateModelPair({ model: fx.broken.mmprojAsModel, mmproj: fx.pair.mmproj }));
    expect(e.message).toMatch(/^mmproj-f32\.gguf is a vision projector \(mmproj\), not the language model/);
    expect(e.detail).toBe(fx.broken.mmprojAsModel);
  });

  it('says when a model is given as the mmproj', async () => {
    const e = errorOf(await validateModelPair({ model: fx.pair.model, mmproj: fx.broken.modelAsMmproj }));
    expect(e.message).toMatch(/^model-f32\.gguf is a language model \(llama\), not a vision projector/);
  });

  it.each([
    ['truncatedModel', /^model truncated-model\.gguf: file is truncated: tensor blk\.1\.ffn_up\.weight ends at byte \d+ but the file has \d+ bytes$/],
    ['badMagic', /^model bad-magic\.gguf: not a GGUF file \(bad magic\)$/],
    ['empty', /^model empty\.gguf: file is empty$/],
    ['badVersion', /^model bad-version\.gguf: unsupported GGUF version 7$/],
    ['wrongArchModel', /^model wrong-arch-model\.gguf: architecture is "gpt2", but FireLLaVA needs a "llama" model$/],
  ] as const)('rejects %s', async (variant, message) => {
    const path = fx.broken[variant];
    const e = errorOf(await validateModelPair({ model: path, mmproj: fx.pair.mmproj }));
    expect(e.message).toMatch(message);
    expect(e.detail).toContain(path);
  });

  it('names a bad projector file as the projector', async () => {
    const e = errorOf(await validateModelPair({ model: fx.pair.model, mmproj: fx.broken.truncatedModel }));
    expect(e.message).toMatch(/^vision projector truncated-model\.gguf: file is truncated/);
  });

  it('reports a missing file', async () => {
    const missing = join(dir, 'nope.gguf');
    const e = errorOf(await validateModelPair({ model: missing, mmproj: null }));
    expect(e.message).toBe('model nope.gguf: file not found');
    expect(e.detail).toBe(missing);
  });
});

describe('validateModelFile', () => {
  it('returns the info for each role', async () => {
    const m = await validateModelFile(fx.pair.model, 'model');
    expect(m.ok && m.value.nLayer).toBe(2);
    const p = await validateModelFile(fx.pair.mmproj, 'mmproj');
    expect(p.ok && p.value.projectionDim).toBe(64);
  });

  it('rejects a model missing layer tensors, or with wrong shapes', async () => {
    // llama.cpp aborts the process on either, so the validator must catch them.
    const zeros = (t: GgufTensorSpec) => ({ ...t, data: new Uint8Array(tensorByteSize(t.type, t.dims)) });
    const meta = textModelMetadata({ ...TINY_TEXT, nLayer: 3 }, 'f32');
    const short = join(dir, 'short.gguf');
    await writeGgufFile(short, meta, textModelTensors(TINY_TEXT, 'f32').map(zeros));
    expect(errorOf(await validateModelFile(short, 'model')).message).toBe('model short.gguf: tensor blk.2.attn_norm.weight is missing');

    const wrong = join(dir, 'wrong-shape.gguf');
    const tensors = textModelTensors(TINY_TEXT, 'f32').map((t) => (t.name === 'blk.1.ffn_down.weight' ? { ...t, dims: [64, 128] } : t));
    await writeGgufFile(wrong, textModelMetadata(TINY_TEXT, 'f32'), tensors.map(zeros));
    expect(errorOf(await validateModelFile(wrong, 'model')).message).toBe(
      'model wrong-shape.gguf: tensor blk.1.ffn_down.weight has shape [64, 128], expected [128, 64]',
    );
  });

  it('rejects projectors that are not LLaVA-1.5 mlp', async () => {
    const zeros = (t: GgufTensorSpec) => ({ ...t, data: new Uint8Array(tensorByteSize(t.type, t.dims)) });
    const withMeta = async (name: string, edit: (m: GgufKv[]) => GgufKv[]): Promise<string> => {
      const path = join(dir, name);
      await writeGgufFile(path, edit(mmprojMetadata(VISION, 'f32')), mmprojTensors(VISION, 'f32').map(zeros));
      return errorOf(await validateModelFile(path, 'mmproj')).message;
    };
    expect(await withMeta('ldp.gguf', (m) => m.map((k) => (k.key === 'clip.projector_type' ? { ...k, value: 'ldp' } : k)))).toBe(
      'vision projector ldp.gguf: projector type is "ldp", but FireLLaVA (LLaVA-1.5) needs "mlp"',
    );
    expect(await withMeta('novision.gguf', (m) => m.filter((k) => k.key !== 'clip.has_vision_encoder'))).toMatch(/has no vision encoder/);
    expect(await withMeta('nomean.gguf', (m) => m.filter((k) => k.key !== 'clip.vision.image_mean'))).toMatch(/clip.vision.image_mean must hold 3 numbers/);
  });

  it('accepts a legacy projection_dim that differs from the projector width', async () => {
    // llava's old converter stored CLIP's own projection_dim (768) there; llama.cpp ignores it.
    const path = join(dir, 'legacy-projdim.gguf');
    await writeMmproj(path, { ...VISION, projectionDim: 768 }, { seed: 1, tensorType: 'f32' });
    const r = await validateModelPair({ model: fx.pair.model, mmproj: path });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.mmproj?.projectionDim).toBe(64);
    expect(r.value.mmproj?.metadataProjectionDim).toBe(768);
  });
});

describe('non-regular files', () => {
  it('refuses a FIFO as the model at once instead of blocking on open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firellava-fifo-'));
    const fifo = join(dir, 'model.gguf');
    execFileSync('mkfifo', [fifo]);
    try {
      const result = await Promise.race([validateModelFile(fifo, 'model'), new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 2000))]);
      expect(result).not.toBe('blocked');
      expect(result).toMatchObject({ ok: false, error: { code: 'MODEL_INVALID' } });
      expect((result as { error: AppError }).error.message).toMatch(/not a regular file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
