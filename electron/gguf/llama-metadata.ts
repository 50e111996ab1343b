// The GGUF keys of a LLaMA text model with a SentencePiece vocabulary, in one place: the converter
// and the test-model generator must write exactly what llama.cpp and model-validator.ts read.
import { kv } from './gguf-writer';
import type { GgufKv } from './gguf-reader';

/** Tokenizers FireLLaVA accepts: SentencePiece ("llama", LLaMA-2 and FireLLaVA) and byte-level BPE ("gpt2", LLaMA-3). */
export const TOKENIZER_MODELS = ['llama', 'gpt2'] as const;

/** A SentencePiece byte-fallback token; llama.cpp looks these up for every character outside the vocabulary. */
export const spmByteToken = (byte: number): string => `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;

export interface LlamaHyperparameters {
  /** "llama" except in deliberately broken fixtures. */
  architecture: string;
  name: string;
  fileType: number;
  nVocab: number;
  nCtx: number;
  nEmbd: number;
  nLayer: number;
  nFf: number;
  nHead: number;
  nHeadKv: number;
  rmsEps: number;
  ropeFreqBase: number;
}

export interface SpmTokenizerData {
  tokens: string[];
  scores: number[];
  types: number[];
  unkId: number;
  bosId: number;
  eosId: number;
  addBos: boolean;
  addEos: boolean;
}

export function llamaMetadata(h: LlamaHyperparameters, t: SpmTokenizerData): GgufKv[] {
  const a = h.architecture;
  return [
    kv.str('general.architecture', a),
    kv.str('general.name', h.name),
    kv.u32('general.file_type', h.fileType),
    kv.u32(`${a}.vocab_size`, h.nVocab),
    kv.u32(`${a}.context_length`, h.nCtx),
    kv.u32(`${a}.embedding_length`, h.nEmbd),
    kv.u32(`${a}.block_count`, h.nLayer),
    kv.u32(`${a}.feed_forward_length`, h.nFf),
    kv.u32(`${a}.rope.dimension_count`, h.nEmbd / h.nHead),
    kv.u32(`${a}.attention.head_count`, h.nHead),
    kv.u32(`${a}.attention.head_count_kv`, h.nHeadKv),
    kv.f32(`${a}.attention.layer_norm_rms_epsilon`, h.rmsEps),
    kv.f32(`${a}.rope.freq_base`, h.ropeFreqBase),
    kv.str('tokenizer.ggml.model', TOKENIZER_MODELS[0]),
    kv.strs('tokenizer.ggml.tokens', t.tokens),
    kv.f32s('tokenizer.ggml.scores', t.scores),
    kv.i32s('tokenizer.ggml.token_type', t.types),
    kv.u32('tokenizer.ggml.unknown_token_id', t.unkId),
    kv.u32('tokenizer.ggml.bos_token_id', t.bosId),
    kv.u32('tokenizer.ggml.eos_token_id', t.eosId),
    kv.bool('tokenizer.ggml.add_bos_token', t.addBos),
    kv.bool('tokenizer.ggml.add_eos_token', t.addEos),
  ];
}
