// The part of @fugood/llama.node the engine uses. The package ships .ts sources that do not pass
// this project's stricter checks, so tsconfig maps the import here instead of type-checking them.
declare module '@fugood/llama.node' {
  export type LibVariant = 'default' | 'vulkan' | 'cuda';

  export interface BackendDeviceInfo {
    backend: string;
    type: string;
    deviceName: string;
    maxMemorySize: number;
  }

  export interface LlamaModelOptions {
    model: string;
    n_ctx?: number;
    n_batch?: number;
    n_threads?: number;
    n_gpu_layers?: number;
    n_parallel?: number;
    ctx_shift?: boolean;
    /** Off: n_ctx is split evenly between the n_parallel sequences. */
    kv_unified?: boolean;
    lib_variant?: LibVariant;
    use_mmap?: boolean;
  }

  export interface LlamaCompletionOptions {
    prompt?: string;
    media_paths?: string | string[];
    n_predict?: number;
    temperature?: number;
    top_k?: number;
    top_p?: number;
    seed?: number;
    stop?: string[];
    ignore_eos?: boolean;
    xtc_probability?: number;
    penalty_present?: number;
    penalty_freq?: number;
    dry_multiplier?: number;
    response_format?: { type: 'text' | 'json_object' | 'json_schema'; json_schema?: { strict?: boolean; schema: Record<string, unknown> } };
  }

  export interface LlamaCompletionToken {
    token: string;
  }

  export interface LlamaCompletionResult {
    text: string;
    tokens_predicted: number;
    tokens_evaluated: number;
    truncated: boolean;
    context_full: boolean;
    interrupted: boolean;
    /** Ended by n_predict (measured: the package's own types misspell it stopped_limit). */
    stopped_limited?: boolean;
    timings: {
      prompt_n: number;
      prompt_ms: number;
      predicted_n: number;
      predicted_ms: number;
      predicted_per_second: number;
    };
  }

  export interface LlamaParallelCompletionOptions extends LlamaCompletionOptions {
    /** State (+ `<path>.meta` with the media identity) to start from; an unreadable file answers EMPTY, no error. */
    load_state_path?: string;
    save_state_path?: string;
  }

  export interface LlamaParallelCompletionResult {
    requestId: number;
    text: string;
    context_full: boolean;
    stopped_eos?: boolean;
    stopped_limit?: boolean;
    stopped_limited?: boolean;
    stopped_word?: boolean;
    tokens_predicted: number;
    tokens_evaluated: number;
    /** cache_n: tokens reused from the slot or a loaded state; prompt_n: tokens evaluated now. */
    timings: { cache_n: number; prompt_n: number; prompt_ms: number; predicted_n: number; predicted_ms: number };
  }

  export interface LlamaParallelAPI {
    enable(config?: { n_parallel?: number; n_batch?: number }): Promise<boolean>;
    /** Rejects with "Request cancelled" after stop(); the other requests run on. */
    completion(
      options: LlamaParallelCompletionOptions,
      onToken?: (requestId: number, token: LlamaCompletionToken) => void,
    ): Promise<{ requestId: number; promise: Promise<LlamaParallelCompletionResult>; stop: () => void }>;
    getStatus(): {
      n_parallel: number;
      active_slots: number;
      queued_requests: number;
      requests: { request_id: number; state: string; prompt_length: number; tokens_generated: number }[];
    };
  }

  export interface LlamaContext {
    parallel: LlamaParallelAPI;
    tokenize(text: string, media_paths?: string[]): Promise<{ tokens: ArrayLike<number> }>;
    completion(options: LlamaCompletionOptions, onToken?: (token: LlamaCompletionToken) => void): Promise<LlamaCompletionResult>;
    stopCompletion(): void;
    initMultimodal(options: { path: string; use_gpu?: boolean }): boolean;
    isMultimodalEnabled(): boolean;
    getUsedDevices(): string[];
    clearCache(clearData?: boolean): void;
    release(): Promise<void>;
  }

  export function loadModel(options: LlamaModelOptions, onProgress?: (progress: number) => void): Promise<LlamaContext>;
  export function getBackendDevicesInfo(variant?: LibVariant): Promise<BackendDeviceInfo[]>;
  /** While enabled the process cannot exit; turn it off again. */
  export function toggleNativeLog(enable: boolean): Promise<void>;
  export function addNativeLogListener(listener: (level: string, text: string) => void): { remove(): void };
}
