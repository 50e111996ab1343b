// An Engine that streams canned words, for transport tests. Records what it was asked and
// whether the caller's AbortSignal fired.
import { NO_MODEL_STATUS, type Engine, type GenerateRequest, type ModelPair } from '../../electron/engine/engine';
import { ok, type Result } from '../../electron/shared/errors';
import type { EngineStatus, GenerateEvent } from '../../electron/shared/types';

export interface FakeEngineOptions {
  words?: string[];
  delayMs?: number;
}

export class FakeEngine implements Engine {
  readonly requests: GenerateRequest[] = [];
  /** Resolves when a generate() call saw its signal abort. */
  aborted: Promise<void>;
  abortedAt: number | null = null;
  private markAborted!: () => void;
  private readonly listeners = new Set<(s: EngineStatus) => void>();
  private current: EngineStatus = NO_MODEL_STATUS;
  disposed = false;

  constructor(private readonly options: FakeEngineOptions = {}) {
    this.aborted = new Promise((resolve) => (this.markAborted = resolve));
  }

  status(): EngineStatus {
    return this.current;
  }

  onStatus(listener: (status: EngineStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  setStatus(patch: Partial<EngineStatus>): void {
    this.current = { ...this.current, ...patch };
    for (const l of this.listeners) l(this.current);
  }

  async load(pair: ModelPair): Promise<Result<EngineStatus>> {
    this.setStatus({ state: 'ready', message: 'Ready (fake)', model: { name: 'fake', path: pair.model, mmprojPath: pair.mmproj, vision: !!pair.mmproj, quantization: null } });
    return ok(this.current);
  }

  async generate(
    request: GenerateRequest,
    onEvent: (event: GenerateEvent) => void,
    signal?: AbortSignal,
  ): Promise<GenerateEvent & { type: 'done' | 'error' }> {
    this.requests.push(request);
    const words = this.options.words ?? ['Hello', ' from', ' the', ' fake', ' engine.'];
    const delay = this.options.delayMs ?? 5;
    const started = Date.now();
    onEvent({ type: 'phase', phase: 'generating' });
    let text = '';
    let cancelled = false;
    signal?.addEventListener(
      'abort',
      () => {
        this.abortedAt = Date.now();
        this.markAborted();
      },
      { once: true },
    );
    for (const word of words) {
      if (signal?.aborted) {
        cancelled = true;
        break;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
      if (signal?.aborted) {
        cancelled = true;
        break;
      }
      text += word;
      onEvent({ type: 'delta', text: word });
    }
    const totalMs = Date.now() - started;
    return {
      type: 'done',
      finishReason: cancelled ? 'cancelled' : 'stop',
      text,
      usage: { promptTokens: 1, cachedTokens: 0, completionTokens: text ? words.length : 0 },
      timings: { ttftMs: delay, tokensPerSecond: 0, promptMs: 0, totalMs },
    };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}
