// One bound on how many generations may run or wait on an engine, shared by every door to it:
// /rpc sends (chat-service), chat.generate, /v1 chat/completions and /v1/responses. Without it 60
// concurrent /rpc sends all queued while /v1 stopped at 8. A refusal is ENGINE_BUSY (429 on /rpc,
// 429 queue_full on /v1) with a Retry-After from the recent request durations.
import { AppErrorException } from '../shared/errors';
import type { Engine } from './engine';

/** Requests running or waiting at which new ones are refused. */
export const MAX_PENDING_GENERATIONS = 8;

export class GenerationLimit {
  /** Admitted requests the engine does not count yet (decoding images, reading history). */
  private preparing = 0;
  /** Moving average of request durations, for Retry-After. */
  private avgMs = 2000;

  constructor(
    private readonly engine: Pick<Engine, 'queueLength'>,
    readonly max = MAX_PENDING_GENERATIONS,
  ) {}

  pending(): number {
    return (this.engine.queueLength?.() ?? 0) + this.preparing;
  }

  /**
   * A place in the queue, or ENGINE_BUSY with retryAfterSeconds. Call what it returns once
   * engine.generate has been called (the engine counts the request from then on) or on failure.
   */
  take(max = this.max): () => void {
    const pending = this.pending();
    if (pending >= max) {
      const seconds = Math.max(1, Math.ceil((this.avgMs * pending) / 1000));
      throw new AppErrorException({
        code: 'ENGINE_BUSY',
        message: `The engine has ${pending} requests in progress or waiting (limit ${max}); retry in about ${seconds} s`,
        retryAfterSeconds: seconds,
      });
    }
    this.preparing++;
    let held = true;
    return () => {
      if (held) this.preparing--;
      held = false;
    };
  }

  recordDuration(ms: number): void {
    this.avgMs = 0.8 * this.avgMs + 0.2 * ms;
  }
}

const limits = new WeakMap<object, GenerationLimit>();

/** The one limit of this engine, whoever asks. */
export function generationLimitOf(engine: Pick<Engine, 'queueLength'>): GenerationLimit {
  let limit = limits.get(engine);
  if (!limit) limits.set(engine, (limit = new GenerationLimit(engine)));
  return limit;
}
