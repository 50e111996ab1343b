// Data shapes that cross the renderer/backend boundary. Plain JSON-safe objects only.
import type { AppError } from './errors';

export interface AppInfo {
  name: string;
  version: string;
  /** 'electron' in the desktop app, 'http' in the headless server. */
  transport: 'electron' | 'http';
  /** Things the user must know since the start (a damaged chat history set aside); shown until dismissed. */
  notices: string[];
}

export type EngineState = 'no-model' | 'loading' | 'ready' | 'error';

export interface EngineDeviceInfo {
  /** 'cuda' | 'vulkan' | 'metal' | 'cpu' */
  backend: string;
  name: string;
  memoryBytes: number | null;
}

export interface EngineStatus {
  state: EngineState;
  /** Human sentence for the status bar: "Ready on NVIDIA H100 (CUDA)", "CPU fallback: ...". */
  message: string;
  /** quantization: the weights' type by name ("Q4_K_M"), null when unknown (or remote). */
  model: { name: string; path: string; mmprojPath: string | null; vision: boolean; quantization: string | null } | null;
  device: EngineDeviceInfo | null;
  gpuLayers: { offloaded: number; total: number } | null;
  /** Set when a GPU load failed and the engine fell back to the CPU. */
  fallbackReason: string | null;
  error: AppError | null;
  /** 0..1 while loading. */
  progress: number | null;
  /** Sequences generating now / slots the engine serves at once (local engine, once loaded). */
  slots?: { inUse: number; total: number };
  /** Per-conversation KV states on disk; null: no disk cache. */
  kvCache?: { bytes: number; capBytes: number } | null;
}

export interface AttachmentInfo {
  /** sha256 of the bytes: the same image pasted twice is stored once. */
  id: string;
  mimeType: string;
  byteLength: number;
  width: number;
  height: number;
}

export type GeneratePhase = 'queued' | 'loading-model' | 'encoding-image' | 'evaluating-prompt' | 'generating';

export interface GenerateUsage {
  promptTokens: number;
  /** Prompt tokens served from the KV cache of an earlier turn. */
  cachedTokens: number;
  completionTokens: number;
}

export interface GenerateTimings {
  /** Request accepted to first text delta, as seen by the backend. */
  ttftMs: number;
  tokensPerSecond: number;
  promptMs: number;
  totalMs: number;
}

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'context-full';

export type GenerateEvent =
  | { type: 'phase'; phase: GeneratePhase }
  /** Which attachment the model sees (single-image policy); null when none. */
  | { type: 'image'; attachmentId: string | null; ignoredAttachmentIds: string[] }
  | { type: 'delta'; text: string }
  | { type: 'done'; finishReason: FinishReason; text: string; usage: GenerateUsage; timings: GenerateTimings }
  | { type: 'error'; error: AppError };
