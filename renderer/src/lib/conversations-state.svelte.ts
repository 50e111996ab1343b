// The conversation list: the sidebar's conversations, the trash, search, and the changes that act on a
// conversation as a whole (rename, delete with undo, restore, import).
import type { ContractClient } from '../../../electron/shared/client';
import type { ConversationSummary, SearchHit } from '../../../electron/shared/contracts/conversations';
import { CallState } from './call-state.svelte';
import type { ChatFeedback } from './chat-feedback.svelte';
import type { MessagesState } from './messages-state.svelte';

export class ConversationsState extends CallState {
  list = $state<ConversationSummary[]>([]);
  trash = $state<ConversationSummary[]>([]);
  showTrash = $state(false);
  query = $state('');
  results = $state<SearchHit[] | null>(null);

  #searchSeq = 0;

  constructor(
    private readonly client: ContractClient,
    private readonly feedback: ChatFeedback,
    private readonly messages: MessagesState,
  ) {
    super(feedback);
  }

  async refresh(): Promise<void> {
    const list = this.unwrap(await this.client.call('conversations.list', {}));
    if (list) this.list = list;
    if (this.showTrash) {
      const trash = this.unwrap(await this.client.call('conversations.list', { trash: true }));
      if (trash) this.trash = trash;
    }
  }

  /** A new chat goes on top; a known one takes its new title (named by its first answer). */
  upsert(summary: ConversationSummary): void {
    const at = this.list.findIndex((c) => c.id === summary.id);
    if (at < 0) this.list.unshift(summary);
    else this.list[at] = summary;
  }

  async rename(id: string, title: string): Promise<void> {
    const updated = this.unwrap(await this.client.call('conversations.rename', { id, title }));
    if (!updated) return;
    const view = this.messages.view;
    if (view?.conversation.id === id) view.conversation.title = updated.title;
    await this.refresh();
  }

  async remove(id: string): Promise<void> {
    const gone = this.unwrap(await this.client.call('conversations.delete', { id }));
    if (!gone) return;
    if (this.messages.currentId === id) this.messages.newChat();
    await this.refresh();
    this.feedback.notice = { text: `“${gone.title || 'New chat'}” moved to the trash.`, undo: () => void this.restore(id) };
  }

  async restore(id: string): Promise<void> {
    const back = this.unwrap(await this.client.call('conversations.restore', { id }));
    this.feedback.notice = null;
    if (!back) return;
    await this.refresh();
    await this.messages.open(id);
  }

  async emptyTrash(): Promise<void> {
    const r = this.unwrap(await this.client.call('conversations.emptyTrash', {}));
    if (r) this.feedback.notice = { text: `Deleted ${r.conversations} conversation${r.conversations === 1 ? '' : 's'} for good.` };
    await this.refresh();
  }

  async toggleTrash(): Promise<void> {
    this.showTrash = !this.showTrash;
    await this.refresh();
  }

  async search(query: string): Promise<void> {
    this.query = query;
    const seq = ++this.#searchSeq;
    if (query.trim() === '') {
      this.results = null;
      return;
    }
    const r = await this.client.call('conversations.search', { query });
    if (seq !== this.#searchSeq) return; // a newer query is on its way
    this.results = r.ok ? r.value : [];
  }

  async importFile(file: Blob): Promise<void> {
    this.error = null;
    const data = new Uint8Array(await file.arrayBuffer());
    const imported = this.unwrap(await this.client.call('conversations.import', { data }));
    if (!imported) return;
    await this.refresh();
    await this.messages.open(imported.id);
    this.feedback.notice = { text: `Imported “${imported.title || 'New chat'}”.` };
  }
}
