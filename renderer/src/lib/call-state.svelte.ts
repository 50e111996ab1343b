// What the renderer's stores share: the last error in words, a busy flag, and contract calls that
// set both.
import type { Result } from '../../../electron/shared/errors';

/** Where the last error lives. Stores of one view share one, so its one banner shows whichever failed last. */
export class ErrorSlot {
  message = $state<string | null>(null);
}

export class CallState {
  busy = $state(false);
  readonly #slot: ErrorSlot;

  constructor(slot: ErrorSlot = new ErrorSlot()) {
    this.#slot = slot;
  }

  get error(): string | null {
    return this.#slot.message;
  }
  set error(message: string | null) {
    this.#slot.message = message;
  }

  /** The value, or null with the error message kept for the view. */
  protected unwrap<T>(r: Result<T>): T | null {
    if (r.ok) return r.value;
    this.error = r.error.message;
    return null;
  }

  /** One call while busy (buttons disable on it); the previous error is cleared first. */
  protected async run<T>(fn: () => Promise<Result<T>>): Promise<T | null> {
    this.busy = true;
    this.error = null;
    try {
      return this.unwrap(await fn());
    } finally {
      this.busy = false;
    }
  }
}
