// What a LLaVA-1.5 checkpoint in Hugging Face layout says about itself: hyper-parameters from
// config.json (missing keys take the transformers defaults, as transformers itself would),
// image preprocessing from preprocessor_config.json, and the tokenizer from tokenizer.model
// plus added_tokens.json. Everything is cross-checked against the tensor shapes.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIP_IMAGE_MEAN, CLIP_IMAGE_STD } from '../gguf/clip-metadata';
import { CheckpointError, requireTensor, type Checkpoint, type CheckpointTensor } from './safetensors';
import { PieceType, ProtobufError, parseSentencePieceModel } from './sentencepiece';

export interface TextHparams {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ff: number;
  vocab: number;
  ctx: number;
  eps: number;
  ropeTheta: number;
}

export interface VisionHparams {
  hidden: number;
  /** Layers in the checkpoint. */
  layers: number;
  /** Layers whose output LLaVA reads (vision_feature_layer -2: all but the last). */
  usedLayers: number;
  heads: number;
  ff: number;
  imageSize: number;
  patchSize: number;
  eps: number;
  /** false for CLIP's quick_gelu. */
  useGelu: boolean;
  imageMean: number[];
  imageStd: number[];
}

export interface Vocab {
  tokens: string[];
  scores: number[];
  types: number[];
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number | null;
  addBos: boolean;
  addEos: boolean;
}

/** Tensor name prefixes: older checkpoints (FireLLaVA) and transformers >= 4.52 differ. */
export interface Layout {
  lm: string;
  lmHead: string;
  vision: string;
  projector: string;
}

export interface LlavaCheckpoint {
  dir: string;
  name: string;
  text: TextHparams;
  vision: VisionHparams;
  vocab: Vocab;
  layout: Layout;
  checkpoint: Checkpoint;
}

type Json = Record<string, unknown>;

async function readJson(path: string, what: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CheckpointError(`${what} is missing: this folder is not a Hugging Face LLaVA checkpoint`, 'NOT_LLAVA');
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error();
    return v as Json;
  } catch {
    throw new CheckpointError(`${what} is not a JSON object`, 'NOT_LLAVA');
  }
}

function num(o: Json, key: string, fallback: number): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CheckpointError(`config.json: ${key} is not a number`, 'NOT_LLAVA');
  return v;
}

function shapeError(t: CheckpointTensor, expected: number[]): CheckpointError {
  return new CheckpointError(`unexpected shape for ${t.name}: [${t.shape.join(', ')}], expected [${expected.join(', ')}] from config.json`, 'BAD_SHAPE');
}

export function expectShape(t: CheckpointTensor, expected: number[]): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) throw shapeError(t, expected);
}

function detectLayout(c: Checkpoint): Layout {
  const has = (n: string): boolean => c.tensors.has(n);
  if (has('language_model.model.embed_tokens.weight')) {
    return { lm: 'language_model.model.', lmHead: 'language_model.lm_head.weight', vision: 'vision_tower.vision_model.', projector: 'multi_modal_projector.' };
  }
  if (has('model.language_model.embed_tokens.weight')) {
    return { lm: 'model.language_model.', lmHead: 'lm_head.weight', vision: 'model.vision_tower.vision_model.', projector: 'model.multi_modal_projector.' };
  }
  if (has('model.embed_tokens.weight')) {
    throw new CheckpointError('this is a text-only LLaMA checkpoint (no vision tower): FireLLaVA needs a LlavaForConditionalGeneration checkpoint', 'NOT_LLAVA');
  }
  throw new CheckpointError('no language_model embed_tokens tensor: not a LLaVA checkpoint', 'NOT_LLAVA');
}

const tensor = requireTensor;

export async function readVocab(dir: string, rows: number): Promise<Vocab> {
  const spmPath = join(dir, 'tokenizer.model');
  let data: Buffer;
  try {
    data = await readFile(spmPath);
  } catch {
    throw new CheckpointError('tokenizer.model is missing (FireLLaVA uses the LLaMA SentencePiece tokenizer)', 'NOT_LLAVA');
  }
  let spm;
  try {
    spm = parseSentencePieceModel(data);
  } catch (err) {
    throw new CheckpointError(`tokenizer.model is not a SentencePiece model: ${err instanceof ProtobufError ? err.message : String(err)}`, 'BAD_FILE');
  }
  if (spm.pieces.length > rows) {
    throw new CheckpointError(`tokenizer.model has ${spm.pieces.length} pieces but the embedding has only ${rows} rows`, 'BAD_SHAPE');
  }
  const tokens = [...spm.pieces];
  const scores = [...spm.scores];
  const types = [...spm.types];
  // Tokens appended by LLaVA training (<image>, <pad>), as llama.cpp's converter adds them.
  const addedPath = join(dir, 'added_tokens.json');
  if (existsSync(addedPath)) {
    const added = await readJson(addedPath, 'added_tokens.json');
    const byId = Object.entries(added)
      .filter((e): e is [string, number] => typeof e[1] === 'number')
      .sort((a, b) => a[1] - b[1]);
    for (const [tok, id] of byId) {
      if (id < spm.pieces.length) continue; // re-declares a piece
      if (id >= rows) throw new CheckpointError(`added token ${tok} has id ${id}, beyond the ${rows} embedding rows`, 'BAD_SHAPE');
      while (tokens.length < id) {
        tokens.push(`[PAD${tokens.length}]`);
        scores.push(-1000);
        types.push(PieceType.UNUSED);
      }
      tokens.push(tok);
      scores.push(-1000);
      types.push(PieceType.USER_DEFINED);
    }
  }
  while (tokens.length < rows) {
    tokens.push(`[PAD${tokens.length}]`);
    scores.push(-1000);
    types.push(PieceType.UNUSED);
  }
  // llama.cpp aborts the process on a duplicate token string: refuse here instead.
  const seen = new Set<string>();
  for (const t of tokens) {
    if (seen.has(t)) throw new CheckpointError(`the tokenizer has the token "${t}" twice`, 'BAD_FILE');
    seen.add(t);
  }
  let addBos = true;
  let addEos = false;
  let padId: number | null = spm.padId >= 0 ? spm.padId : null;
  const tcPath = join(dir, 'tokenizer_config.json');
  if (existsSync(tcPath)) {
    const tc = await readJson(tcPath, 'tokenizer_config.json');
    if (typeof tc.add_bos_token === 'boolean') addBos = tc.add_bos_token;
    if (typeof tc.add_eos_token === 'boolean') addEos = tc.add_eos_token;
    const pad = typeof tc.pad_token === 'string' ? tc.pad_token : (tc.pad_token as { content?: unknown } | undefined)?.content;
    if (typeof pad === 'string' && padId === null) {
      const i = tokens.indexOf(pad);
      if (i >= 0) padId = i;
    }
  }
  return { tokens, scores, types, unkId: spm.unkId, bosId: spm.bosId, eosId: spm.eosId, padId, addBos, addEos };
}

export async function readLlavaCheckpoint(dir: string, checkpoint: Checkpoint): Promise<LlavaCheckpoint> {
  const config = await readJson(join(dir, 'config.json'), 'config.json');
  const archs = Array.isArray(config.architectures) ? (config.architectures as unknown[]) : [];
  const isLlava = config.model_type === 'llava' || archs.some((a) => typeof a === 'string' && a.startsWith('Llava'));
  if (!isLlava) {
    const what = typeof config.model_type === 'string' ? config.model_type : String(archs[0] ?? 'unknown');
    throw new CheckpointError(`config.json describes a "${what}" model, not LLaVA (LlavaForConditionalGeneration)`, 'NOT_LLAVA');
  }
  if (archs.some((a) => a === 'LlavaNextForConditionalGeneration') || config.image_grid_pinpoints) {
    throw new CheckpointError('LLaVA-NeXT checkpoints are not supported: FireLLaVA is LLaVA-1.5', 'NOT_LLAVA');
  }
  const layout = detectLayout(checkpoint);
  const tc = (config.text_config ?? {}) as Json;
  if (tc.model_type !== undefined && tc.model_type !== 'llama') throw new CheckpointError(`text model is "${String(tc.model_type)}", not llama`, 'NOT_LLAVA');
  const heads = num(tc, 'num_attention_heads', 32);
  const text: TextHparams = {
    hidden: num(tc, 'hidden_size', 4096),
    layers: num(tc, 'num_hidden_layers', 32),
    heads,
    kvHeads: num(tc, 'num_key_value_heads', heads),
    ff: num(tc, 'intermediate_size', 11008),
    vocab: num(tc, 'vocab_size', 32000),
    ctx: num(tc, 'max_position_embeddings', 2048),
    eps: num(tc, 'rms_norm_eps', 1e-6),
    ropeTheta: num(tc, 'rope_theta', 10000),
  };
  const embed = tensor(checkpoint, `${layout.lm}embed_tokens.weight`);
  // Some LLaVA configs keep vocab_size at 32000 while the embedding was padded: trust the tensor.
  if (embed.shape.length === 2 && embed.shape[1] === text.hidden) text.vocab = embed.shape[0] as number;
  expectShape(embed, [text.vocab, text.hidden]);
  if (text.hidden % text.heads !== 0 || text.heads % text.kvHeads !== 0) {
    throw new CheckpointError(`config.json: ${text.heads} heads / ${text.kvHeads} kv heads do not divide hidden size ${text.hidden}`, 'BAD_SHAPE');
  }
  if (checkpoint.tensors.has(`${layout.lm}layers.${text.layers}.input_layernorm.weight`)) {
    throw new CheckpointError(`the checkpoint has more than the ${text.layers} layers config.json declares`, 'BAD_SHAPE');
  }

  const hasVisionConfig = config.vision_config !== undefined;
  const vc = (config.vision_config ?? {}) as Json;
  // LlavaConfig's default vision tower is CLIP ViT-L/14-336; CLIPVisionConfig's own defaults are ViT-B/32.
  const d = hasVisionConfig ? { hidden: 768, ff: 3072, layers: 12, heads: 12, image: 224, patch: 32 } : { hidden: 1024, ff: 4096, layers: 24, heads: 16, image: 336, patch: 14 };
  const layers = num(vc, 'num_hidden_layers', d.layers);
  const featureLayer = num(config, 'vision_feature_layer', -2);
  const usedLayers = featureLayer < 0 ? layers + 1 + featureLayer : featureLayer;
  if (!Number.isInteger(usedLayers) || usedLayers < 1 || usedLayers > layers) {
    throw new CheckpointError(`vision_feature_layer ${featureLayer} does not select one of the ${layers} vision layers`, 'NOT_LLAVA');
  }
  // llama.cpp always stops one block before the end of the file: the last layer cannot be used.
  if (usedLayers === layers) {
    throw new CheckpointError(`vision_feature_layer ${featureLayer} (the last layer) is not supported by llama.cpp's LLaVA graph; LLaVA-1.5 uses -2`, 'NOT_LLAVA');
  }
  const strategy = config.vision_feature_select_strategy ?? 'default';
  if (strategy !== 'default') throw new CheckpointError(`vision_feature_select_strategy "${String(strategy)}" is not supported (LLaVA-1.5 uses "default")`, 'NOT_LLAVA');
  const act = config.projector_hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new CheckpointError(`projector_hidden_act "${String(act)}" is not supported (LLaVA-1.5 uses gelu)`, 'NOT_LLAVA');
  const hiddenAct = vc.hidden_act ?? 'quick_gelu';
  if (hiddenAct !== 'quick_gelu' && hiddenAct !== 'gelu') throw new CheckpointError(`vision hidden_act "${String(hiddenAct)}" is not supported`, 'NOT_LLAVA');

  const pre = existsSync(join(dir, 'preprocessor_config.json')) ? await readJson(join(dir, 'preprocessor_config.json'), 'preprocessor_config.json') : {};
  const triple = (v: unknown, fallback: number[], key: string): number[] => {
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number')) throw new CheckpointError(`preprocessor_config.json: ${key} must be 3 numbers`, 'NOT_LLAVA');
    return v as number[];
  };
  const vision: VisionHparams = {
    hidden: num(vc, 'hidden_size', d.hidden),
    layers,
    usedLayers,
    heads: num(vc, 'num_attention_heads', d.heads),
    ff: num(vc, 'intermediate_size', d.ff),
    imageSize: num(vc, 'image_size', d.image),
    patchSize: num(vc, 'patch_size', d.patch),
    eps: num(vc, 'layer_norm_eps', 1e-5),
    useGelu: hiddenAct === 'gelu',
    imageMean: triple(pre.image_mean, [...CLIP_IMAGE_MEAN], 'image_mean'),
    imageStd: triple(pre.image_std, [...CLIP_IMAGE_STD], 'image_std'),
  };
  const crop = pre.crop_size;
  const cropSize = typeof crop === 'number' ? crop : (crop as { height?: unknown } | undefined)?.height;
  if (typeof cropSize === 'number' && cropSize !== vision.imageSize) {
    throw new CheckpointError(`preprocessor crop size ${cropSize} differs from the vision tower's image_size ${vision.imageSize}`, 'BAD_SHAPE');
  }
  if (vision.imageSize % vision.patchSize !== 0) throw new CheckpointError('vision image_size is not a multiple of patch_size', 'BAD_SHAPE');

  const vocab = await readVocab(dir, text.vocab);
  const name = typeof (config as { _name_or_path?: unknown })._name_or_path === 'string' ? String(config._name_or_path) : dir.split(/[\\/]/).filter(Boolean).pop() ?? 'llava';
  return { dir, name, text, vision, vocab, layout, checkpoint };
}
