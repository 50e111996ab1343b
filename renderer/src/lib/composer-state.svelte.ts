// The composer: the draft and the images waiting to go with it (checked by the backend on attach).
import type { ContractClient } from '../../../electron/shared/client';
import { CallState } from './call-state.svelte';
import type { ChatFeedback } from './chat-feedback.svelte';
import { engineReadableBytes, MAX_IMAGE_BYTES } from './images';

export interface PendingImage {
  /** Local key until stored; then the attachment id. */
  key: string;
  id: string | null;
  name: string;
  width: number;
  height: number;
  /** blob: URL of what was pasted, for the thumbnail. */
  url: string;
}

/** What a send took out of the composer; given back when the question was refused before it was saved. */
export interface TakenDraft {
  text: string;
  attachments: { id: string; name: string }[];
  settle(saved: boolean): void;
}

export class ComposerState extends CallState {
  draft = $state('');
  pending = $state<PendingImage[]>([]);
  attaching = $state(0);

  readonly empty = $derived(this.draft.trim() === '' && this.pending.length === 0);

  constructor(
    private readonly client: ContractClient,
    private readonly feedback: ChatFeedback,
  ) {
    super(feedback);
  }

  async attach(file: Blob, name: string): Promise<void> {
    this.error = null;
    if (file.size > MAX_IMAGE_BYTES) {
      this.error = `The image is ${(file.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_IMAGE_BYTES / 1024 / 1024} MB.`;
      return;
    }
    this.attaching++;
    try {
      const data = await engineReadableBytes(file);
      const r = await this.client.call('attachments.add', { name: name.slice(0, 512), mimeType: file.type, data });
      if (!r.ok) {
        this.feedback.showImageError(r.error);
        return;
      }
      const { id, width, height } = r.value;
      if (this.pending.some((p) => p.id === id)) return;
      this.pending.push({ key: id, id, name, width, height, url: URL.createObjectURL(file) });
    } catch (err) {
      this.feedback.showImageError({ message: `Could not read the image: ${err instanceof Error ? err.message : String(err)}` });
    } finally {
      this.attaching--;
    }
  }

  /** Swaps a pending image for its crop, keeping its place in the row. */
  async replacePending(key: string, blob: Blob, name: string): Promise<void> {
    const before = this.pending.findIndex((p) => p.key === key);
    const count = this.pending.length;
    await this.attach(blob, name);
    const added = this.pending.at(-1);
    if (before < 0 || !added || this.pending.length === count) return; // refused: keep the original
    this.removePending(key);
    this.pending.splice(this.pending.indexOf(added), 1);
    this.pending.splice(before, 0, added);
  }

  removePending(key: string): void {
    const i = this.pending.findIndex((p) => p.key === key);
    if (i < 0) return;
    URL.revokeObjectURL(this.pending[i]!.url);
    this.pending.splice(i, 1);
  }

  /** Empties the composer for a send. */
  take(): TakenDraft {
    const draft = this.draft;
    const pending = this.pending;
    this.draft = '';
    this.pending = [];
    return {
      text: draft.trim(),
      attachments: pending.filter((p) => p.id).map((p) => ({ id: p.id!, name: p.name })),
      settle: (saved) => {
        if (saved) {
          for (const p of pending) URL.revokeObjectURL(p.url);
        } else if (this.draft === '' && this.pending.length === 0) {
          // Refused before the question was saved: give the text and images back.
          this.draft = draft;
          this.pending = pending;
        }
      },
    };
  }

  dispose(): void {
    for (const p of this.pending) URL.revokeObjectURL(p.url);
  }
}
