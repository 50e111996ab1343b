// All state of the chat window: engine status, conversation list, the open conversation with its
// streaming answer, search, the composer and undo notices. Components only read and call this.
import type { ContractClient, StreamHandle } from '../../../electron/shared/client';
import type {
  ChatEvent,
  ConversationSettings,
  ConversationSummary,
  ConversationView,
  MessageView,
  Preset,
  SearchHit,
} from '../../../electron/shared/contracts/conversations';
import type { EngineEntry, EngineList } from '../../../electron/shared/contracts/engines';
import type { EngineStatus, GeneratePhase } from '../../../electron/shared/types';
import { finishedAnnouncement } from './announce';
import { engineReadableBytes, MAX_IMAGE_BYTES, plainImageError } from './images';

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

export interface Notice {
  text: string;
  undo?: () => void;
}

export const PHASE_TEXT: Record<GeneratePhase, string> = {
  queued: 'Waiting for the engine…',
  'loading-model': 'Loading the model…',
  'encoding-image': 'Looking at the image…',
  'evaluating-prompt': 'Reading the conversation…',
  generating: 'Answering…',
};

type StreamName = 'messages.send' | 'messages.regenerate' | 'messages.continue' | 'messages.edit';

/** Sent by the remote engine settings after a change, so the chat's engine list follows. */
export const ENGINES_CHANGED = 'firellava:engines-changed';

export class ChatState {
  status = $state<EngineStatus | null>(null);
  connectionError = $state<string | null>(null);
  conversations = $state<ConversationSummary[]>([]);
  trash = $state<ConversationSummary[]>([]);
  showTrash = $state(false);
  view = $state<ConversationView | null>(null);
  /** Message to scroll to and highlight (search result). */
  focusMessageId = $state<number | null>(null);
  streamingId = $state<number | null>(null);
  phase = $state<GeneratePhase | null>(null);
  generating = $state(false);
  error = $state<string | null>(null);
  // Technical words behind `error`, shown folded; tied to the message so a later error never shows it.
  #errorDetail = $state<{ message: string; detail: string } | null>(null);
  get errorDetail(): string | null {
    return this.#errorDetail && this.#errorDetail.message === this.error ? this.#errorDetail.detail : null;
  }
  private showImageError(error: { code?: string; message: string; detail?: string }): void {
    const plain = plainImageError(error);
    this.error = plain.message;
    this.#errorDetail = plain.detail ? { message: plain.message, detail: plain.detail } : null;
  }
  notice = $state<Notice | null>(null);
  /** Read by a polite live region when an answer ends (see announce.ts). */
  announcement = $state('');
  query = $state('');
  results = $state<SearchHit[] | null>(null);
  draft = $state('');
  pending = $state<PendingImage[]>([]);
  attaching = $state(0);
  presets = $state<Preset[]>([]);
  engines = $state<EngineList | null>(null);
  /** Why this conversation's answer came from another engine than chosen; stays until the next answer. */
  engineNotice = $state<string | null>(null);

  readonly currentId = $derived(this.view?.conversation.id ?? null);
  readonly ready = $derived(this.status?.state === 'ready');
  /** The engine the next answer in this conversation comes from (the default when none is chosen or it was removed). */
  readonly currentEngine = $derived.by((): EngineEntry | null => {
    const list = this.engines;
    if (!list) return null;
    const chosen = this.view?.conversation.engineId ?? null;
    return list.engines.find((e) => e.id === chosen) ?? list.engines.find((e) => e.id === list.defaultEngineId) ?? null;
  });
  /** A remote engine does not need the local model. */
  readonly answerReady = $derived(this.ready || this.currentEngine?.kind === 'remote');
  readonly sendBlockedReason = $derived.by((): string | null => {
    if (this.connectionError) return 'Not connected to the backend';
    if (this.currentEngine?.kind !== 'remote') {
      if (!this.status || this.status.state === 'no-model') return 'No model is loaded';
      if (this.status.state === 'loading') return 'The model is still loading';
      if (this.status.state === 'error') return 'The model failed to load';
    }
    if (this.generating) return 'Wait for the answer or stop it';
    if (this.attaching > 0) return 'The image is still being checked';
    if (this.draft.trim() === '' && this.pending.length === 0) return 'Write a message or attach an image';
    return null;
  });
  readonly lastStats = $derived(this.view?.messages.findLast((m) => m.role === 'assistant' && m.stats)?.stats ?? null);

  #stream: StreamHandle | null = null;
  #watch: StreamHandle | null = null;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #pendingDelta = '';
  #frame = 0;
  #searchSeq = 0;

  constructor(private readonly client: ContractClient) {}

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
    void this.refreshList();
    void this.loadPresets();
    void this.loadEngines();
    const onEnginesChanged = (): void => void this.loadEngines();
    window.addEventListener(ENGINES_CHANGED, onEnginesChanged);
    return () => {
      window.removeEventListener(ENGINES_CHANGED, onEnginesChanged);
      this.#stopped = true;
      clearTimeout(this.#retry);
      this.#watch?.cancel();
      this.#stream?.cancel();
      for (const p of this.pending) URL.revokeObjectURL(p.url);
    };
  }

  private async call<T>(promise: Promise<{ ok: true; value: T } | { ok: false; error: { message: string } }>): Promise<T | null> {
    const r = await promise;
    if (r.ok) return r.value;
    this.error = r.error.message;
    return null;
  }

  async refreshList(): Promise<void> {
    const list = await this.call(this.client.call('conversations.list', {}));
    if (list) this.conversations = list;
    if (this.showTrash) {
      const trash = await this.call(this.client.call('conversations.list', { trash: true }));
      if (trash) this.trash = trash;
    }
  }

  async open(id: string, focusMessageId: number | null = null): Promise<void> {
    this.error = null;
    if (focusMessageId !== null) {
      // A search hit may sit on another branch: make it the visible one.
      const view = await this.call(this.client.call('messages.switchVersion', { messageId: focusMessageId }));
      if (view) this.view = view;
    } else {
      const view = await this.call(this.client.call('conversations.get', { id }));
      if (view) this.view = view;
    }
    this.focusMessageId = focusMessageId;
  }

  newChat(): void {
    this.view = null;
    this.error = null;
    this.focusMessageId = null;
  }

  async rename(id: string, title: string): Promise<void> {
    const updated = await this.call(this.client.call('conversations.rename', { id, title }));
    if (!updated) return;
    if (this.view?.conversation.id === id) this.view.conversation.title = updated.title;
    await this.refreshList();
  }

  async remove(id: string): Promise<void> {
    const gone = await this.call(this.client.call('conversations.delete', { id }));
    if (!gone) return;
    if (this.currentId === id) this.newChat();
    await this.refreshList();
    this.notice = { text: `“${gone.title || 'New chat'}” moved to the trash.`, undo: () => void this.restore(id) };
  }

  async restore(id: string): Promise<void> {
    const back = await this.call(this.client.call('conversations.restore', { id }));
    this.notice = null;
    if (!back) return;
    await this.refreshList();
    await this.open(id);
  }

  async emptyTrash(): Promise<void> {
    const r = await this.call(this.client.call('conversations.emptyTrash', {}));
    if (r) this.notice = { text: `Deleted ${r.conversations} conversation${r.conversations === 1 ? '' : 's'} for good.` };
    await this.refreshList();
  }

  async toggleTrash(): Promise<void> {
    this.showTrash = !this.showTrash;
    await this.refreshList();
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

  // --- composer -----------------------------------------------------------------------------

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
        this.showImageError(r.error);
        return;
      }
      const { id, width, height } = r.value;
      if (this.pending.some((p) => p.id === id)) return;
      this.pending.push({ key: id, id, name, width, height, url: URL.createObjectURL(file) });
    } catch (err) {
      this.showImageError({ message: `Could not read the image: ${err instanceof Error ? err.message : String(err)}` });
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

  send(): void {
    if (this.sendBlockedReason) return;
    const attachments = this.pending.filter((p) => p.id).map((p) => ({ id: p.id!, name: p.name }));
    const text = this.draft.trim();
    const last = this.view?.messages.at(-1);
    const draft = this.draft;
    const pending = this.pending;
    this.draft = '';
    this.pending = [];
    this.run(
      'messages.send',
      { ...(this.view ? { conversationId: this.view.conversation.id, parentId: last?.id ?? null } : {}), text, attachments },
      (saved) => {
        if (saved) {
          for (const p of pending) URL.revokeObjectURL(p.url);
        } else if (this.draft === '' && this.pending.length === 0) {
          // Refused before the question was saved: give the text and images back.
          this.draft = draft;
          this.pending = pending;
        }
      },
    );
  }

  regenerate(message: MessageView): void {
    if (this.generating) return;
    this.run('messages.regenerate', { messageId: message.id });
  }

  /** Grows an answer in place (one cut at Max tokens). */
  continueAnswer(message: MessageView): void {
    if (this.generating) return;
    this.run('messages.continue', { messageId: message.id });
  }

  edit(message: MessageView, text: string): void {
    if (this.generating) return;
    this.run('messages.edit', { messageId: message.id, text });
  }

  stop(): void {
    if (!this.generating) return;
    const id = this.currentId;
    if (id) void this.client.call('messages.stop', { conversationId: id });
    else this.#stream?.cancel();
  }

  async switchVersion(message: MessageView, step: -1 | 1): Promise<void> {
    const target = message.versions.ids[message.versions.index + step];
    if (target === undefined || this.generating) return;
    const view = await this.call(this.client.call('messages.switchVersion', { messageId: target }));
    if (view) this.view = view;
  }

  async exportCurrent(format: 'json' | 'markdown'): Promise<void> {
    const id = this.currentId;
    if (!id) return;
    const file = await this.call(this.client.call('conversations.export', { id, format }));
    if (!file) return;
    const url = URL.createObjectURL(new Blob([file.data as Uint8Array<ArrayBuffer>], { type: file.mimeType }));
    const a = document.createElement('a');
    a.href = url;
    a.download = file.fileName;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  async importFile(file: Blob): Promise<void> {
    this.error = null;
    const data = new Uint8Array(await file.arrayBuffer());
    const imported = await this.call(this.client.call('conversations.import', { data }));
    if (!imported) return;
    await this.refreshList();
    await this.open(imported.id);
    this.notice = { text: `Imported “${imported.title || 'New chat'}”.` };
  }

  async loadEngines(): Promise<void> {
    const r = await this.client.call('engines.list', {});
    if (r.ok) this.engines = r.value;
  }

  async loadPresets(): Promise<void> {
    const list = await this.call(this.client.call('presets.list', {}));
    if (list) this.presets = list;
  }

  /** Settings belong to a conversation: a new chat is created first so they have a home. */
  async applySettings(settings: Partial<ConversationSettings> & { engineId?: string | null }): Promise<boolean> {
    let id = this.currentId;
    if (!id) {
      const created = await this.call(this.client.call('conversations.create', {}));
      if (!created) return false;
      id = created.id;
      await this.refreshList();
    }
    const view = await this.call(this.client.call('conversations.settings', { id, ...settings }));
    if (!view) return false;
    if (this.view && this.view.conversation.id === id) this.view.conversation = view.conversation;
    else this.view = view;
    this.notice = { text: 'Settings saved for this conversation.' };
    return true;
  }

  async savePreset(name: string, settings: ConversationSettings): Promise<void> {
    const saved = await this.call(this.client.call('presets.save', { name, system: settings.system, params: settings.params }));
    if (!saved) return;
    await this.loadPresets();
    this.notice = { text: `Saved preset “${saved.name}”.` };
  }

  async deletePreset(id: string): Promise<void> {
    if (await this.call(this.client.call('presets.delete', { id }))) await this.loadPresets();
  }

  async copyLastAnswer(): Promise<boolean> {
    const last = this.view?.messages.findLast((m) => m.role === 'assistant');
    if (!last) return false;
    await navigator.clipboard.writeText(last.text);
    this.notice = { text: 'Copied the last answer.' };
    return true;
  }

  // --- streaming ----------------------------------------------------------------------------

  /** `after(saved)`: saved is whether the backend wrote a user message for this request. */
  private run(name: StreamName, input: Record<string, unknown>, after?: (saved: boolean) => void): void {
    let saved = false;
    this.error = null;
    this.notice = null;
    this.engineNotice = null;
    this.announcement = '';
    this.generating = true;
    this.phase = 'queued';
    this.focusMessageId = null;
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
      if (!result.ok && result.error.code !== 'CANCELLED') this.showImageError(result.error);
      after?.(saved);
      // The server's view is the truth (version lists, final status).
      const id = this.currentId;
      if (id) {
        const view = await this.client.call('conversations.get', { id });
        if (view.ok && this.currentId === id) this.view = view.value;
      }
      await this.refreshList();
    });
  }

  private onEvent(event: ChatEvent): void {
    switch (event.type) {
      case 'conversation':
        if (!this.view || this.view.conversation.id !== event.conversation.id) {
          this.view = { conversation: { ...event.conversation, system: '', params: {} }, messages: [] };
        } else {
          this.view.conversation.title = event.conversation.title;
          this.view.conversation.engineId = event.conversation.engineId;
        }
        if (!this.conversations.some((c) => c.id === event.conversation.id)) this.conversations.unshift(event.conversation);
        break;
      case 'message':
        this.flushDelta();
        this.placeMessage(event.message);
        if (event.message.role === 'assistant') this.streamingId = event.message.id;
        break;
      case 'phase':
        this.phase = event.phase;
        break;
      case 'image':
        break;
      case 'notice':
        this.engineNotice = event.text;
        this.notice = { text: event.text };
        break;
      case 'delta':
        this.phase = 'generating';
        this.#pendingDelta += event.text;
        // Many tokens per frame are joined: one render per frame, however fast the model is.
        this.#frame ||= requestAnimationFrame(() => this.flushDelta());
        break;
      case 'finished':
        this.flushDelta();
        this.placeMessage(event.message);
        if (event.message.role === 'assistant') this.announcement = finishedAnnouncement(event.message);
        break;
    }
  }

  private flushDelta(): void {
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    if (!this.#pendingDelta || !this.view) return;
    const m = this.view.messages.find((x) => x.id === this.streamingId);
    if (m) m.text += this.#pendingDelta;
    this.#pendingDelta = '';
  }

  /** Puts a new or updated message on the visible branch, cutting the branch below its parent. */
  private placeMessage(message: MessageView): void {
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
}
