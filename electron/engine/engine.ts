// The one interface the rest of the app uses to run a model. The local implementation hosts
// @fugood/llama.node in a separate process (engine-host.ts); others (remote) can be swapped in.
import type { Result } from '../shared/errors';
import type { GenerationParams } from '../shared/contract';
import type { EngineDeviceInfo, EngineStatus, GenerateEvent } from '../shared/types';

export interface ModelPair {
  model: string;
  /** Vision projector; null runs text-only. */
  mmproj: string | null;
}

export interface EngineTurn {
  role: 'user' | 'assistant';
  text: string;
  /** Absolute paths of images attached to this turn, in order, already validated. */
  images: { id: string; path: string }[];
}

/**
 * Constrained output: the binding compiles the schema to a grammar, so the text always parses
 * (json_object: any JSON object). `schema` is plain JSON Schema (draft 2020-12 subset llama.cpp knows).
 */
export type ResponseFormat = { type: 'json_object' } | { type: 'json_schema'; schema: Record<string, unknown> };

export interface GenerateRequest {
  /** Turns of the same conversation reuse the KV cache. */
  conversationId: string;
  system: string;
  turns: EngineTurn[];
  params: GenerationParams;
  /**
   * Raw prompt for OpenAI-style /v1/completions: used verbatim instead of the FireLLaVA chat
   * format (`system` and the turns' text are ignored). `<image>` marks where the single image of
   * the turns goes (see raw-prompt.ts). Chat callers leave it unset.
   */
  rawPrompt?: string;
  /** Unset: free text. */
  responseFormat?: ResponseFormat;
  /**
   * How its KV state is kept for a later turn: 'conversation' (default, the chat) by conversationId;
   * 'prefix' (/v1, stateless clients) by a hash of the turns, found again when the client resends
   * them plus an answer and a new question; 'none' (catalog items, raw prompts).
   */
  cacheBy?: 'conversation' | 'prefix' | 'none';
}

export interface Engine {
  status(): EngineStatus;
  onStatus(listener: (status: EngineStatus) => void): () => void;
  load(pair: ModelPair): Promise<Result<EngineStatus>>;
  /** Emits phase/image/delta events; resolves with the terminal event ('done' or 'error'). */
  generate(request: GenerateRequest, onEvent: (event: GenerateEvent) => void, signal?: AbortSignal): Promise<GenerateEvent & { type: 'done' | 'error' }>;
  dispose(): Promise<void>;
  /** Generate requests accepted and not yet finished (the running one included); for 429s. */
  queueLength?(): number;
  /** GPUs usable without loading a model; null when not known yet. */
  probeDevices?(): Promise<EngineDeviceInfo[] | null>;
  /** Deletes every saved KV state; resolves with the cache size after (0). */
  clearKvCache?(): Promise<number>;
  /** A new cache size cap (null: the default), applied at once; resolves with the cache size after. */
  setCacheCap?(bytes: number | null): Promise<{ bytes: number; capBytes: number }>;
  /** The conversation was deleted for good: its saved KV state goes too. */
  forgetConversation?(conversationId: string): Promise<void>;
  /** A pair crashed the engine twice and is refused from now on (the library marks it broken). */
  onPairBroken?(listener: (pair: ModelPair, message: string) => void): () => void;
}

/** Before any model is loaded. */
export const NO_MODEL_STATUS: EngineStatus = {
  state: 'no-model',
  message: 'No model loaded',
  model: null,
  device: null,
  gpuLayers: null,
  fallbackReason: null,
  error: null,
  progress: null,
};
