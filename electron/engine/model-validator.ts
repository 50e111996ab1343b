// Checks a FireLLaVA model pair before anything native touches it: llama.cpp kills the whole
// process on a bad file, so every failure it would hit must be caught here with a clear reason.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { fail, ok, type Result } from '../shared/errors';
import { checkVisionTower } from './clip-checks';
import { checkLlamaHyperparameters } from './llama-checks';
import { checkTokenizer } from './tokenizer-checks';
import {
  GgufFormatError,
  metaBool,
  metaNumber,
  metaString,
  readGgufFile,
  type GgufFile,
  type GgufTensorInfo,
} from '../gguf/gguf-reader';
import { fileTypeName } from '../gguf/ggml-types';

export type ModelRole = 'model' | 'mmproj';

export interface TextModelInfo {
  path: string;
  /** general.name, or the file name without .gguf. */
  name: string;
  architecture: 'llama';
  /** general.file_type by name ("Q4_K_M", "F16"); null when the file does not say. */
  quantization: string | null;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  nCtxTrain: number;
  nVocab: number;
  fileBytes: number;
  /** Bytes of all blk.N.* tensors, index = N. */
  layerBytes: number[];
  /** Bytes of every tensor outside the layers (token_embd, output_norm, output, ...). */
  nonLayerBytes: number;
  /** What llama.cpp puts on the GPU for the output layer: output_norm plus output (or the tied token_embd). */
  outputBytes: number;
  tokenEmbdBytes: number;
  /** Sum of all tensor data. */
  tensorBytes: number;
}

export interface MmprojInfo {
  path: string;
  name: string;
  projectorType: 'mlp';
  imageSize: number;
  patchSize: number;
  /** Output width of the projector (mm.2.weight), what must match the model's n_embd. */
  projectionDim: number;
  /** clip.vision.projection_dim as stored; legacy LLaVA converters wrote CLIP's own 768 here. */
  metadataProjectionDim: number | null;
  visionEmbd: number;
  visionLayers: number;
  fileBytes: number;
  tensorBytes: number;
}

export interface ModelPairInfo {
  model: TextModelInfo;
  /** null when no projector was given (text-only). */
  mmproj: MmprojInfo | null;
}

export interface ModelPairPaths {
  model: string;
  mmproj?: string | null;
}

type InfoFor<R extends ModelRole> = R extends 'model' ? TextModelInfo : MmprojInfo;

/** Thrown inside this module only; turned into a MODEL_INVALID Result at the edge. */
class Invalid extends Error {
  constructor(
    message: string,
    readonly detail: string,
  ) {
    super(message);
  }
}

const ROLE_LABEL: Record<ModelRole, string> = { model: 'model', mmproj: 'vision projector' };

async function readHeader(path: string, role: ModelRole): Promise<GgufFile> {
  // Opening a FIFO or device blocks a libuv thread for good (SIGTERM then cannot end serve): stat first.
  const kind = await stat(path).then((s) => (s.isFile() ? null : s.isDirectory() ? 'a folder' : 'a FIFO, socket or device'), () => null);
  if (kind) throw new Invalid(`${ROLE_LABEL[role]} ${basename(path)}: this is ${kind}, not a regular file`, path);
  try {
    return await readGgufFile(path);
  } catch (err) {
    const reason = err instanceof GgufFormatError ? err.reason : err instanceof Error ? err.message : String(err);
    const extra = err instanceof GgufFormatError && err.detail ? ` (${err.detail})` : '';
    throw new Invalid(`${ROLE_LABEL[role]} ${basename(path)}: ${reason}`, `${path}${extra}`);
  }
}

function shapeOf(t: GgufTensorInfo | undefined): string {
  return t ? `[${t.dims.join(', ')}]` : 'missing';
}

function sameShape(t: GgufTensorInfo, dims: number[]): boolean {
  return t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i]);
}

function describeModel(file: GgufFile): TextModelInfo {
  const path = file.path;
  const base = basename(path);
  const bad = (reason: string): Invalid => new Invalid(`model ${base}: ${reason}`, path);
  const arch = metaString(file, 'general.architecture');
  if (arch === undefined) throw bad('general.architecture is missing, so llama.cpp cannot tell what model this is');
  if (arch === 'clip') {
    throw new Invalid(
      `${base} is a vision projector (mmproj), not the language model: choose it as the vision projector and pick the LLaMA .gguf as the model`,
      path,
    );
  }
  if (arch !== 'llama') throw bad(`architecture is "${arch}", but FireLLaVA needs a "llama" model`);

  const need = (key: string): number => {
    const v = metaNumber(file, key);
    if (v === undefined || !Number.isInteger(v) || v <= 0) throw bad(`${key} is missing or not a positive integer`);
    return v;
  };
  const nEmbd = need('llama.embedding_length');
  const nLayer = need('llama.block_count');
  const nHead = need('llama.attention.head_count');
  const nHeadKv = metaNumber(file, 'llama.attention.head_count_kv') ?? nHead;
  const nFf = need('llama.feed_forward_length');
  const nCtxTrain = need('llama.context_length');
  if (nEmbd % nHead !== 0) throw bad(`llama.attention.head_count ${nHead} does not divide llama.embedding_length ${nEmbd}`);
  if (!Number.isInteger(nHeadKv) || nHeadKv <= 0 || nHead % nHeadKv !== 0) {
    throw bad(`llama.attention.head_count_kv ${nHeadKv} does not divide llama.attention.head_count ${nHead}`);
  }

  checkLlamaHyperparameters(file, { nEmbd, nHead, nLayer, nCtxTrain }, bad);
  const nVocab = checkTokenizer(file, bad);

  const tensor = (name: string, dims: number[], required = true): GgufTensorInfo | undefined => {
    const t = file.tensorsByName.get(name);
    if (!t) {
      if (required) throw bad(`tensor ${name} is missing`);
      return undefined;
    }
    if (!sameShape(t, dims)) throw bad(`tensor ${name} has shape ${shapeOf(t)}, expected [${dims.join(', ')}]`);
    return t;
  };
  const nEmbdKv = (nEmbd / nHead) * nHeadKv;
  const tokEmbd = tensor('token_embd.weight', [nEmbd, nVocab]) as GgufTensorInfo;
  const outNorm = tensor('output_norm.weight', [nEmbd]) as GgufTensorInfo;
  const output = tensor('output.weight', [nEmbd, nVocab], false);
  for (let i = 0; i < nLayer; i++) {
    const b = `blk.${i}`;
    tensor(`${b}.attn_norm.weight`, [nEmbd]);
    tensor(`${b}.attn_q.weight`, [nEmbd, nEmbd]);
    tensor(`${b}.attn_k.weight`, [nEmbd, nEmbdKv]);
    tensor(`${b}.attn_v.weight`, [nEmbd, nEmbdKv]);
    tensor(`${b}.attn_output.weight`, [nEmbd, nEmbd]);
    tensor(`${b}.ffn_norm.weight`, [nEmbd]);
    tensor(`${b}.ffn_gate.weight`, [nEmbd, nFf]);
    tensor(`${b}.ffn_up.weight`, [nEmbd, nFf]);
    tensor(`${b}.ffn_down.weight`, [nFf, nEmbd]);
  }

  const layerBytes = new Array<number>(nLayer).fill(0);
  let nonLayerBytes = 0;
  let tensorBytes = 0;
  for (const t of file.tensors) {
    tensorBytes += t.byteSize;
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (!m) {
      nonLayerBytes += t.byteSize;
      continue;
    }
    const layer = Number(m[1]);
    if (layer >= nLayer) throw bad(`tensor ${t.name} is beyond block_count ${nLayer}`);
    layerBytes[layer] = (layerBytes[layer] ?? 0) + t.byteSize;
  }

  return {
    path,
    name: metaString(file, 'general.name') || base.replace(/\.gguf$/i, ''),
    architecture: 'llama',
    quantization: fileTypeName(metaNumber(file, 'general.file_type')),
    nEmbd,
    nLayer,
    nHead,
    nHeadKv,
    nFf,
    nCtxTrain,
    nVocab,
    fileBytes: file.fileBytes,
    layerBytes,
    nonLayerBytes,
    outputBytes: outNorm.byteSize + (output ?? tokEmbd).byteSize,
    tokenEmbdBytes: tokEmbd.byteSize,
    tensorBytes,
  };
}

function describeMmproj(file: GgufFile): MmprojInfo {
  const path = file.path;
  const base = basename(path);
  const bad = (reason: string): Invalid => new Invalid(`vision projector ${base}: ${reason}`, path);
  const arch = metaString(file, 'general.architecture');
  if (arch !== 'clip') {
    if (arch !== undefined && metaNumber(file, `${arch}.block_count`) !== undefined) {
      throw new Invalid(
        `${base} is a language model (${arch}), not a vision projector: choose it as the model and pick the mmproj .gguf as the vision projector`,
        path,
      );
    }
    throw bad(`architecture is ${arch === undefined ? 'missing' : `"${arch}"`}, but a vision projector must be "clip"`);
  }
  if (metaBool(file, 'clip.has_vision_encoder') !== true) throw bad('it has no vision encoder (clip.has_vision_encoder is not true)');
  const projectorType = metaString(file, 'clip.projector_type');
  if (projectorType === undefined) throw bad('clip.projector_type is missing');
  if (projectorType !== 'mlp') throw bad(`projector type is "${projectorType}", but FireLLaVA (LLaVA-1.5) needs "mlp"`);

  const { imageSize, patchSize, visionEmbd, visionLayers } = checkVisionTower(file, bad);
  const projDimRaw = metaNumber(file, 'clip.vision.projection_dim');
  if (projDimRaw === undefined) throw bad('clip.vision.projection_dim is missing'); // llama.cpp requires the key

  const mm0 = file.tensorsByName.get('mm.0.weight');
  if (!mm0) throw bad('tensor mm.0.weight is missing');
  const mm2 = file.tensorsByName.get('mm.2.weight');
  if (!mm2) throw bad('tensor mm.2.weight is missing: this is not a LLaVA-1.5 two-layer projector');
  if (mm0.dims.length !== 2 || mm0.dims[0] !== visionEmbd) {
    throw bad(`mm.0.weight has shape ${shapeOf(mm0)} but the vision encoder is ${visionEmbd} wide`);
  }
  if (mm2.dims.length !== 2 || mm2.dims[0] !== mm0.dims[1]) {
    throw bad(`mm.2.weight has shape ${shapeOf(mm2)}, which does not follow mm.0.weight ${shapeOf(mm0)}`);
  }
  const projectionDim = mm2.dims[1] as number;
  for (const [name, width] of [['mm.0.bias', mm0.dims[1]], ['mm.2.bias', projectionDim]] as const) {
    const bias = file.tensorsByName.get(name);
    if (bias && !sameShape(bias, [width as number])) throw bad(`tensor ${name} has shape ${shapeOf(bias)}, expected [${width}]`);
  }

  return {
    path,
    name: metaString(file, 'general.name') || base.replace(/\.gguf$/i, ''),
    projectorType: 'mlp',
    imageSize,
    patchSize,
    projectionDim,
    metadataProjectionDim: projDimRaw,
    visionEmbd,
    visionLayers,
    fileBytes: file.fileBytes,
    tensorBytes: file.tensors.reduce((s, x) => s + x.byteSize, 0),
  };
}

function toResult<T>(fn: () => Promise<T>): Promise<Result<T>> {
  return fn().then(ok, (err: unknown) => {
    if (err instanceof Invalid) return fail('MODEL_INVALID', err.message, err.detail);
    throw err;
  });
}

/** Validates one file for its role; never loads native code. */
export function validateModelFile<R extends ModelRole>(path: string, role: R): Promise<Result<InfoFor<R>>> {
  return toResult(async () => {
    const file = await readHeader(path, role);
    return (role === 'model' ? describeModel(file) : describeMmproj(file)) as InfoFor<R>;
  });
}

/** Validates both files and that the projector's output width matches the model. */
export function validateModelPair(pair: ModelPairPaths): Promise<Result<ModelPairInfo>> {
  return toResult(async () => {
    const modelFile = await readHeader(pair.model, 'model');
    const mmprojPath = pair.mmproj ?? null;
    if (mmprojPath === null) return { model: describeModel(modelFile), mmproj: null };
    const mmFile = await readHeader(mmprojPath, 'mmproj');
    const modelArch = metaString(modelFile, 'general.architecture');
    const mmArch = metaString(mmFile, 'general.architecture');
    if (modelArch === 'clip' && mmArch === 'llama') {
      throw new Invalid(
        `the model and vision projector are swapped: ${basename(pair.model)} is the vision projector and ${basename(mmprojPath)} is the model`,
        `model: ${pair.model}\nmmproj: ${mmprojPath}`,
      );
    }
    const model = describeModel(modelFile);
    const mmproj = describeMmproj(mmFile);
    if (mmproj.projectionDim !== model.nEmbd) {
      throw new Invalid(
        `vision projector ${basename(mmprojPath)} outputs ${mmproj.projectionDim}-wide embeddings but model ${basename(pair.model)} is ${model.nEmbd} wide: they are not a pair`,
        `model: ${pair.model}\nmmproj: ${mmprojPath}`,
      );
    }
    return { model, mmproj };
  });
}
