// The open conversation: its visible branch of messages, the message a search jumped to, version
// switching, export and copy. The streaming store writes answers into it.
import type { ContractClient } from '../../../electron/shared/client';
import type { ConversationView, MessageView } from '../../../electron/shared/contracts/conversations';
import { CallState } from './call-state.svelte';
import { downloadBytes } from './download';
import type { ChatFeedback } from './chat-feedback.svelte';

export class MessagesState extends CallState {
  view = $state<ConversationView | null>(null);
  /** Message to scroll to and highlight (search result). */
  focusMessageId = $state<number | null>(null);

  readonly currentId = $derived(this.view?.conversation.id ?? null);
  readonly lastStats = $derived(this.view?.messages.findLast((m) => m.role === 'assistant' && m.stats)?.stats ?? null);

  /** generating: whether an answer is being written (versions stay put meanwhile). */
  constructor(
    private readonly client: ContractClient,
    private readonly feedback: ChatFeedback,
    private readonly generating: () => boolean,
  ) {
    super(feedback);
  }

  async open(id: string, focusMessageId: number | null = null): Promise<void> {
    this.error = null;
    if (focusMessageId !== null) {
      // A search hit may sit on another branch: make it the visible one.
      const view = this.unwrap(await this.client.call('messages.switchVersion', { messageId: focusMessageId }));
      if (view) this.view = view;
    } else {
      const view = this.unwrap(await this.client.call('conversations.get', { id }));
      if (view) this.view = view;
    }
    this.focusMessageId = focusMessageId;
  }

  newChat(): void {
    this.view = null;
    this.error = null;
    this.focusMessageId = null;
  }

  /** The server's view is the truth (version lists, final status); kept only if still open. */
  async reload(): Promise<void> {
    const id = this.currentId;
    if (!id) return;
    const view = await this.client.call('conversations.get', { id });
    if (view.ok && this.currentId === id) this.view = view.value;
  }

  async switchVersion(message: MessageView, step: -1 | 1): Promise<void> {
    const target = message.versions.ids[message.versions.index + step];
    if (target === undefined || this.generating()) return;
    const view = this.unwrap(await this.client.call('messages.switchVersion', { messageId: target }));
    if (view) this.view = view;
  }

  /** Puts a new or updated message on the visible branch, cutting the branch below its parent. */
  place(message: MessageView): void {
    if (!this.view || this.view.conversation.id !== message.conversationId) return;
    const list = this.view.messages;
    const existing = list.findIndex((m) => m.id === message.id);
    if (existing >= 0) {
      list[existing] = message;
      return;
    }
    const parentAt = message.parentId === null ? -1 : list.findIndex((m) => m.id === message.parentId);
    list.splice(parentAt + 1, list.length, message);
  }

  async exportCurrent(format: 'json' | 'markdown'): Promise<void> {
    const id = this.currentId;
    if (!id) return;
    const file = this.unwrap(await this.client.call('conversations.export', { id, format }));
    if (file) downloadBytes(file.data, file.mimeType, file.fileName);
  }

  async copyLastAnswer(): Promise<boolean> {
    const last = this.view?.messages.findLast((m) => m.role === 'assistant');
    if (!last) return false;
    await navigator.clipboard.writeText(last.text);
    this.feedback.notice = { text: 'Copied the last answer.' };
    return true;
  }
}
