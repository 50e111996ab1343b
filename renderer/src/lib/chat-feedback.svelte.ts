// What the chat window tells the user whichever store acted: the last error (with its technical
// words folded), a passing notice (optionally with Undo) and what the backend said at start.
import { ErrorSlot } from './call-state.svelte';
import { plainImageError } from './images';

export interface Notice {
  text: string;
  undo?: () => void;
}

export class ChatFeedback extends ErrorSlot {
  notice = $state<Notice | null>(null);
  /** Told once per start by the backend (a damaged history set aside); stays until dismissed. */
  startupNotices = $state<string[]>([]);
  // Tied to the message so a later error never shows it.
  #detail = $state<{ message: string; detail: string } | null>(null);

  get errorDetail(): string | null {
    return this.#detail && this.#detail.message === this.message ? this.#detail.detail : null;
  }

  showImageError(error: { code?: string; message: string; detail?: string }): void {
    const plain = plainImageError(error);
    this.message = plain.message;
    this.#detail = plain.detail ? { message: plain.message, detail: plain.detail } : null;
  }
}
