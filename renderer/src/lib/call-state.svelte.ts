// What the settings and model stores share: the last error in words, a busy flag, and contract
// calls that set both.
import type { Result } from '../../../electron/shared/errors';

export class CallState {
  error = $state<string | null>(null);
  busy = $state(false);

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
