// The CLIP vision tower of a LLaVA-1.5 projector, checked against what mtmd's graph indexes with:
// it cuts the image into patch_size squares, convolves them with v.patch_embd, adds one row of
// v.position_embd per patch (plus the class token) and splits the width into heads. A mismatch
// there reads out of bounds or fails a GGML_ASSERT: the worker dies at load or at the first image.
import { GgufValueType, ggufValueTypeName } from '../gguf/ggml-types';
import { metaArray, metaNumber, type GgufFile, type GgufTensorInfo } from '../gguf/gguf-reader';

type Bad = (reason: string) => Error;

export interface VisionTower {
  imageSize: number;
  patchSize: number;
  visionEmbd: number;
  visionLayers: number;
}

const shapeOf = (t: GgufTensorInfo): string => `[${t.dims.join(', ')}]`;

function positiveInt(file: GgufFile, key: string, bad: Bad): number {
  const v = metaNumber(file, key);
  if (v === undefined || !Number.isInteger(v) || v <= 0) throw bad(`${key} is missing or not a positive integer`);
  return v;
}

function epsilon(file: GgufFile, key: string, bad: Bad): void {
  const v = metaNumber(file, key);
  if (v === undefined || !Number.isFinite(v) || v <= 0 || v >= 1) throw bad(`${key} is ${v === undefined ? 'missing' : String(v)}; it must be a small positive number`);
}

function floatTriple(file: GgufFile, key: string, positive: boolean, bad: Bad): void {
  const a = metaArray(file, key);
  if (!a || a.items.length !== 3) throw bad(`${key} must hold 3 numbers (one per colour channel)`);
  if (a.itemType !== GgufValueType.FLOAT32) throw bad(`${key} holds ${ggufValueTypeName(a.itemType)} values, but mtmd reads it as FLOAT32`);
  if (a.items.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (positive && x <= 0))) throw bad(`${key} must hold 3 finite${positive ? ' positive' : ''} numbers`);
}

export function checkVisionTower(file: GgufFile, bad: Bad): VisionTower {
  const imageSize = positiveInt(file, 'clip.vision.image_size', bad);
  const patchSize = positiveInt(file, 'clip.vision.patch_size', bad);
  const visionEmbd = positiveInt(file, 'clip.vision.embedding_length', bad);
  const visionLayers = positiveInt(file, 'clip.vision.block_count', bad);
  const nHead = positiveInt(file, 'clip.vision.attention.head_count', bad);
  positiveInt(file, 'clip.vision.feed_forward_length', bad);
  epsilon(file, 'clip.vision.attention.layer_norm_epsilon', bad);
  if (patchSize < 2 || patchSize > imageSize) throw bad(`clip.vision.patch_size ${patchSize} is not a sane patch size for ${imageSize}-pixel images`);
  if (imageSize % patchSize !== 0) throw bad(`clip.vision.patch_size ${patchSize} does not divide clip.vision.image_size ${imageSize}`);
  if (visionEmbd % nHead !== 0) {
    throw bad(`clip.vision.attention.head_count ${nHead} does not divide clip.vision.embedding_length ${visionEmbd}`);
  }
  floatTriple(file, 'clip.vision.image_mean', false, bad);
  floatTriple(file, 'clip.vision.image_std', true, bad);

  const tensor = (name: string, dims: number[] | null, required = true): GgufTensorInfo | undefined => {
    const t = file.tensorsByName.get(name);
    if (!t) {
      if (required) throw bad(`tensor ${name} is missing`);
      return undefined;
    }
    if (dims && (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i]))) {
      throw bad(`tensor ${name} has shape ${shapeOf(t)}, expected [${dims.join(', ')}]`);
    }
    return t;
  };
  const e = visionEmbd;
  tensor('v.patch_embd.weight', [patchSize, patchSize, 3, e]);
  const classEmbd = tensor('v.class_embd', [e], false);
  const patches = (imageSize / patchSize) ** 2;
  tensor('v.position_embd.weight', [e, patches + (classEmbd ? 1 : 0)]);
  tensor('v.pre_ln.weight', [e], false);
  tensor('v.pre_ln.bias', [e], false);
  for (let i = 0; i < visionLayers; i++) {
    const b = `v.blk.${i}`;
    for (const p of ['attn_q', 'attn_k', 'attn_v', 'attn_out']) {
      tensor(`${b}.${p}.weight`, [e, e]);
      tensor(`${b}.${p}.bias`, [e], false);
    }
    for (const p of ['ln1', 'ln2']) {
      tensor(`${b}.${p}.weight`, [e]);
      tensor(`${b}.${p}.bias`, [e], false);
    }
    // Legacy LLaVA converters swapped the two names; mtmd accepts either order, as long as they chain.
    const up = tensor(`${b}.ffn_up.weight`, null) as GgufTensorInfo;
    const ff = up.dims[0] === e ? (up.dims[1] as number) : (up.dims[0] as number);
    const upDims = up.dims[0] === e ? [e, ff] : [ff, e];
    tensor(`${b}.ffn_up.weight`, upDims);
    tensor(`${b}.ffn_down.weight`, [...upDims].reverse());
  }
  return { imageSize, patchSize, visionEmbd, visionLayers };
}
