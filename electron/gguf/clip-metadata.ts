// The GGUF keys of a LLaVA-1.5 mmproj (CLIP vision encoder + MLP projector), in one place: the
// converter and the test-model generator must write exactly what llama.cpp's mtmd and
// clip-checks.ts read.
import { kv } from './gguf-writer';
import type { GgufKv } from './gguf-reader';

/** OpenAI CLIP's normalisation, which LLaVA-1.5 keeps. */
export const CLIP_IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_IMAGE_STD = [0.26862954, 0.26130258, 0.27577711];

export interface ClipHyperparameters {
  name: string;
  description: string;
  fileType: number;
  /** false: CLIP ViT's quick GELU. */
  useGelu: boolean;
  imageSize: number;
  patchSize: number;
  nEmbd: number;
  nFf: number;
  /** The projector's output width (the text model's n_embd). */
  projectionDim: number;
  nHead: number;
  eps: number;
  /** Blocks written (clip.vision.block_count). */
  nLayer: number;
  imageMean: readonly number[];
  imageStd: readonly number[];
}

export function clipMetadata(h: ClipHyperparameters): GgufKv[] {
  return [
    kv.str('general.architecture', 'clip'),
    kv.str('general.name', h.name),
    kv.str('general.description', h.description),
    kv.u32('general.file_type', h.fileType),
    kv.bool('clip.has_text_encoder', false),
    kv.bool('clip.has_vision_encoder', true),
    kv.bool('clip.has_llava_projector', true),
    kv.str('clip.projector_type', 'mlp'),
    kv.bool('clip.use_gelu', h.useGelu),
    kv.u32('clip.vision.image_size', h.imageSize),
    kv.u32('clip.vision.patch_size', h.patchSize),
    kv.u32('clip.vision.embedding_length', h.nEmbd),
    kv.u32('clip.vision.feed_forward_length', h.nFf),
    kv.u32('clip.vision.projection_dim', h.projectionDim),
    kv.u32('clip.vision.attention.head_count', h.nHead),
    kv.f32('clip.vision.attention.layer_norm_epsilon', h.eps),
    kv.u32('clip.vision.block_count', h.nLayer),
    kv.f32s('clip.vision.image_mean', [...h.imageMean]),
    kv.f32s('clip.vision.image_std', [...h.imageStd]),
  ];
}
