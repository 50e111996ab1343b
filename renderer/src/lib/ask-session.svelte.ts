// State of the single-question page: engine status, one attached image, one streamed answer.
import type { ContractClient, StreamHandle } from '../../../electron/shared/client';
import type { EngineStatus, GeneratePhase } from '../../../electron/shared/types';
import { engineReadableBytes, MAX_IMAGE_BYTES } from './images';

export interface Attached {
  id: string;
  name: string;
  width: number;
  height: number;
  /** blob: URL of the thumbnail; revoked when replaced. */
  url: string;
}

const PHASE_TEXT: Record<GeneratePhase, string> = {
  queued: 'Waiting for the engine…',
  'loading-model': 'Loading the model…',
  'encoding-image': 'Looking at the image…',
  'evaluating-prompt': 'Reading the question…',
  generating: 'Answering…',
};

export class AskSession {
  status = $state<EngineStatus | null>(null);
  connectionError = $state<string | null>(null);
  attachment = $state<Attached | null>(null);
  attaching = $state(false);
  question = $state('');
  answer = $state('');
  phase = $state<GeneratePhase | null>(null);
  generating = $state(false);
  error = $state<string | null>(null);
  /** Not an error: how the last answer ended when that is worth knowing. */
  notice = $state<string | null>(null);

  readonly canSend = $derived(this.question.trim() !== '' && !this.generating && !this.attaching);
  readonly phaseText = $derived(this.phase ? PHASE_TEXT[this.phase] : '');

  #generation: StreamHandle | null = null;
  #watch: StreamHandle | null = null;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly client: ContractClient) {}

  /** Follows engine.watch until stopped, reconnecting if the backend goes away. */
  start(): () => void {
    this.#stopped = false;
    const connect = (): void => {
      const handle = this.client.stream('engine.watch', {}, (status) => {
        this.status = status;
        this.connectionError = null;
      });
      this.#watch = handle;
      void handle.done.then((result) => {
        if (this.#stopped || this.#watch !== handle) return;
        this.connectionError = result.ok ? 'The backend closed the status stream' : result.error.message;
        this.#retry = setTimeout(connect, 2000);
      });
    };
    connect();
    return () => {
      this.#stopped = true;
      clearTimeout(this.#retry);
      this.#watch?.cancel();
      this.#generation?.cancel();
      this.clearAttachment();
    };
  }

  async attach(file: Blob, name = 'image'): Promise<void> {
    this.error = null;
    if (file.size > MAX_IMAGE_BYTES) {
      this.error = `The image is ${(file.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_IMAGE_BYTES / 1024 / 1024} MB.`;
      return;
    }
    this.attaching = true;
    try {
      const data = await engineReadableBytes(file);
      const result = await this.client.call('attachments.add', { name: name.slice(0, 512), mimeType: file.type, data });
      if (!result.ok) {
        this.error = result.error.message;
        return;
      }
      this.clearAttachment();
      const { id, width, height } = result.value;
      this.attachment = { id, name, width, height, url: URL.createObjectURL(file) };
    } catch (err) {
      this.error = `Could not read the image: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.attaching = false;
    }
  }

  clearAttachment(): void {
    if (this.attachment) URL.revokeObjectURL(this.attachment.url);
    this.attachment = null;
  }

  async send(): Promise<void> {
    if (!this.canSend) return;
    this.answer = '';
    this.error = null;
    this.notice = null;
    this.phase = 'queued';
    this.generating = true;
    const handle = this.client.stream(
      'chat.generate',
      {
        conversationId: crypto.randomUUID(),
        turns: [{ role: 'user', text: this.question.trim(), attachmentIds: this.attachment ? [this.attachment.id] : [] }],
      },
      (event) => {
        switch (event.type) {
          case 'phase':
            this.phase = event.phase;
            break;
          case 'delta':
            this.phase = 'generating';
            this.answer += event.text;
            break;
          case 'done':
            this.answer = event.text || this.answer;
            if (event.finishReason === 'length') this.notice = 'The answer stopped at the length limit.';
            if (event.finishReason === 'context-full') this.notice = 'The answer stopped: the model context is full.';
            break;
          case 'error':
            this.error = event.error.message;
            break;
          case 'image':
            break;
        }
      },
    );
    this.#generation = handle;
    const result = await handle.done;
    if (this.#generation !== handle) return;
    this.#generation = null;
    this.generating = false;
    this.phase = null;
    if (!result.ok && result.error.code !== 'CANCELLED') this.error = result.error.message;
    if (!result.ok && result.error.code === 'CANCELLED') this.notice = 'Stopped.';
  }

  stop(): void {
    this.#generation?.cancel();
  }
}
