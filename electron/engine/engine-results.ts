// Pure helpers of the local engine host: the model's footprint for planning, which KV states a
// request loads and saves, and the terminal event of a finished completion.
import { createHash } from 'node:crypto';
import type { FinishReason, GenerateEvent } from '../shared/types';
import type { GenerateRequest } from './engine';
import type { ModelFootprint } from './gpu-plan';
import type { ModelPairInfo } from './model-validator';
import type { CompleteResult } from './worker-protocol';

type Terminal = GenerateEvent & { type: 'done' | 'error' };

export function footprintOf(info: ModelPairInfo): ModelFootprint {
  return {
    layerBytes: info.model.layerBytes,
    outputBytes: info.model.outputBytes,
    nEmbd: info.model.nEmbd,
    nHead: info.model.nHead,
    nHeadKv: info.model.nHeadKv,
    nVocab: info.model.nVocab,
    mmprojBytes: info.mmproj?.fileBytes ?? 0,
  };
}

/** Where a request's KV state comes from and goes (see GenerateRequest.cacheBy). */
export function stateKeys(r: GenerateRequest): { loadKey: string | null; saveKey: string | null } {
  const by = r.rawPrompt !== undefined ? 'none' : (r.cacheBy ?? 'conversation');
  if (by === 'none') return { loadKey: null, saveKey: null };
  if (by === 'conversation') return { loadKey: r.conversationId, saveKey: r.conversationId };
  const key = (turns: GenerateRequest['turns']) =>
    `prefix:${createHash('sha256').update(JSON.stringify([r.system, turns.map((t) => [t.role, t.text, t.images.map((i) => i.id)])])).digest('hex')}`;
  const n = r.turns.length;
  // A resent history plus the last answer and a new question: the state saved after that answer's request.
  const loadKey = n >= 3 && r.turns[n - 2]?.role === 'assistant' ? key(r.turns.slice(0, n - 2)) : null;
  return { loadKey, saveKey: key(r.turns) };
}

/** The done event of a finished completion; ttftMs from the host's acceptance of the request. */
export function terminalOf(r: CompleteResult, ttftMs: number | null, accepted: number): Terminal {
  const finishReason: FinishReason = r.interrupted ? 'cancelled' : r.contextFull ? 'context-full' : r.hitLimit ? 'length' : 'stop';
  const totalMs = performance.now() - accepted;
  return {
    type: 'done',
    finishReason,
    text: r.text,
    usage: {
      promptTokens: r.promptTokens,
      cachedTokens: Math.max(0, r.promptTokens - r.promptEvaluated),
      completionTokens: r.completionTokens,
    },
    timings: {
      ttftMs: ttftMs ?? totalMs,
      tokensPerSecond: r.predictedMs > 0 ? (r.completionTokens * 1000) / r.predictedMs : 0,
      promptMs: r.promptMs,
      totalMs,
    },
  };
}

