// Hyper-parameters of a LLaMA text model that llama.cpp sizes buffers and graphs with. Each one
// below, when wrong, failed an assert or a throw inside the native loader (the worker died with
// SIGSEGV or SIGABRT) instead of returning an error.
import { metaNumber, metaString, type GgufFile } from '../gguf/gguf-reader';

type Bad = (reason: string) => Error;

/** Shorter than this cannot hold a LLaVA prompt (an image alone is 576 tokens); llama.cpp aborts on tiny ones. */
export const MIN_CONTEXT_LENGTH = 256;
/** llama.cpp's LLAMA_MAX_LAYERS. */
const MAX_LAYERS = 512;
const ROPE_SCALING_TYPES = ['none', 'linear', 'yarn', 'longrope'];

export interface LlamaShape {
  nEmbd: number;
  nHead: number;
  nLayer: number;
  nCtxTrain: number;
}

function optionalNumber(file: GgufFile, key: string, bad: Bad): number | undefined {
  const v = metaNumber(file, key);
  if (v === undefined && file.metadata.has(key)) throw bad(`${key} is not a number`);
  return v;
}

export function checkLlamaHyperparameters(file: GgufFile, s: LlamaShape, bad: Bad): void {
  const a = 'llama';
  const headDim = s.nEmbd / s.nHead;
  if (s.nLayer > MAX_LAYERS) throw bad(`${a}.block_count ${s.nLayer} is more than llama.cpp's limit of ${MAX_LAYERS} layers`);
  if (s.nCtxTrain < MIN_CONTEXT_LENGTH) {
    throw bad(`${a}.context_length is ${s.nCtxTrain}; a usable model has at least ${MIN_CONTEXT_LENGTH} tokens of context`);
  }
  // llama.cpp insists on full rotary embeddings for "llama", and derives tensor shapes from the head size.
  for (const key of [`${a}.rope.dimension_count`, `${a}.attention.key_length`, `${a}.attention.value_length`]) {
    const v = optionalNumber(file, key, bad);
    if (v !== undefined && v !== headDim) throw bad(`${key} is ${v}, but it must equal the head size ${headDim} (embedding_length / head_count)`);
  }
  const epsKey = `${a}.attention.layer_norm_rms_epsilon`;
  const eps = metaNumber(file, epsKey);
  if (eps === undefined || !Number.isFinite(eps) || eps <= 0 || eps >= 1) {
    throw bad(`${epsKey} is ${eps === undefined ? 'missing' : String(eps)}; it must be a small positive number`);
  }
  const freqKey = `${a}.rope.freq_base`;
  const freqBase = optionalNumber(file, freqKey, bad);
  if (freqBase !== undefined && (!Number.isFinite(freqBase) || freqBase <= 0)) throw bad(`${freqKey} is ${freqBase}; it must be a positive number`);
  const scalingKey = `${a}.rope.scaling.type`;
  const scaling = metaString(file, scalingKey);
  if (file.metadata.has(scalingKey) && (scaling === undefined || !ROPE_SCALING_TYPES.includes(scaling))) {
    throw bad(`${scalingKey} is "${String(scaling)}", not one of ${ROPE_SCALING_TYPES.join(', ')}`);
  }
  for (const key of [`${a}.expert_count`, `${a}.expert_used_count`]) {
    const v = optionalNumber(file, key, bad);
    if (v !== undefined && v !== 0) {
      throw bad(`${key} is ${v}: that describes a mixture-of-experts model, but FireLLaVA runs dense LLaMA models only`);
    }
  }
}
