// One answer at a time: runs a send/regenerate/continue/edit stream, writes its events into the open
// conversation (deltas joined per frame), and says where it is and when it ends.
import type { ContractClient, StreamHandle } from '../../../electron/shared/client';
import type { ChatEvent, MessageView } from '../../../electron/shared/contracts/conversations';
import type { GeneratePhase } from '../../../electron/shared/types';
import { finishedAnnouncement } from './announce';
import { CallState } from './call-state.svelte';
import type { ChatFeedback } from './chat-feedback.svelte';
import type { ConversationsState } from './conversations-state.svelte';
import type { MessagesState } from './messages-state.svelte';

export const PHASE_TEXT: Record<GeneratePhase, string> = {
  queued: 'Waiting for the engine…',
  'loading-model': 'Loading the model…',
  'encoding-image': 'Looking at the image…',
  'evaluating-prompt': 'Reading the conversation…',
  generating: 'Answering…',
};

export type StreamName = 'messages.send' | 'messages.regenerate' | 'messages.continue' | 'messages.edit';

export class StreamingState extends CallState {
  generating = $state(false);
  phase = $state<GeneratePhase | null>(null);
  streamingId = $state<number | null>(null);
  /** Why this conversation's answer came from another engine than chosen; stays until the next answer. */
  engineNotice = $state<string | null>(null);
  /** Read by a polite live region when an answer ends (see announce.ts). */
  announcement = $state('');

  #stream: StreamHandle | null = null;
  #pendingDelta = '';
  #frame = 0;

  constructor(
    private readonly client: ContractClient,
    private readonly feedback: ChatFeedback,
    private readonly messages: MessagesState,
    private readonly conversations: ConversationsState,
  ) {
    super(feedback);
  }

  regenerate(message: MessageView): void {
    if (this.generating) return;
    this.generate('messages.regenerate', { messageId: message.id });
  }

  /** Grows an answer in place (one cut at Max tokens). */
  continueAnswer(message: MessageView): void {
    if (this.generating) return;
    this.generate('messages.continue', { messageId: message.id });
  }

  edit(message: MessageView, text: string): void {
    if (this.generating) return;
    this.generate('messages.edit', { messageId: message.id, text });
  }

  stop(): void {
    if (!this.generating) return;
    const id = this.messages.currentId;
    if (id) void this.client.call('messages.stop', { conversationId: id });
    else this.#stream?.cancel();
  }

  cancel(): void {
    this.#stream?.cancel();
  }

  /** `after(saved)`: saved is whether the backend wrote a user message for this request. */
  generate(name: StreamName, input: Record<string, unknown>, after?: (saved: boolean) => void): void {
    let saved = false;
    this.error = null;
    this.feedback.notice = null;
    this.engineNotice = null;
    this.announcement = '';
    this.generating = true;
    this.phase = 'queued';
    this.messages.focusMessageId = null;
    const handle = this.client.stream(name as 'messages.send', input as never, (event) => {
      if (event.type === 'message' && event.message.role === 'user') saved = true;
      this.onEvent(event);
    });
    this.#stream = handle;
    void handle.done.then(async (result) => {
      this.flushDelta();
      if (this.#stream !== handle) return;
      this.#stream = null;
      this.generating = false;
      this.phase = null;
      this.streamingId = null;
      if (!result.ok && result.error.code !== 'CANCELLED') this.feedback.showImageError(result.error);
      after?.(saved);
      await this.messages.reload();
      await this.conversations.refresh();
    });
  }

  private onEvent(event: ChatEvent): void {
    const messages = this.messages;
    switch (event.type) {
      case 'conversation':
        if (!messages.view || messages.view.conversation.id !== event.conversation.id) {
          messages.view = { conversation: { ...event.conversation, system: '', params: {} }, messages: [] };
        } else {
          messages.view.conversation.title = event.conversation.title;
          messages.view.conversation.engineId = event.conversation.engineId;
        }
        this.conversations.upsert(event.conversation);
        break;
      case 'message':
        this.flushDelta();
        messages.place(event.message);
        if (event.message.role === 'assistant') this.streamingId = event.message.id;
        break;
      case 'phase':
        this.phase = event.phase;
        break;
      case 'image':
        break;
      case 'notice':
        this.engineNotice = event.text;
        this.feedback.notice = { text: event.text };
        break;
      case 'delta':
        this.phase = 'generating';
        this.#pendingDelta += event.text;
        // Many tokens per frame are joined: one render per frame, however fast the model is.
        this.#frame ||= requestAnimationFrame(() => this.flushDelta());
        break;
      case 'finished':
        this.flushDelta();
        messages.place(event.message);
        if (event.message.role === 'assistant') this.announcement = finishedAnnouncement(event.message);
        break;
    }
  }

  private flushDelta(): void {
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    const view = this.messages.view;
    if (!this.#pendingDelta || !view) return;
    const m = view.messages.find((x) => x.id === this.streamingId);
    if (m) m.text += this.#pendingDelta;
    this.#pendingDelta = '';
  }
}
