// Conversations that persist while the engine streams: the user message is written first, then an
// assistant row (status "streaming") before generation starts; its text is flushed every
// FLUSH_MS, so a crash loses at most that much and the row reads "interrupted" on the next start.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine, EngineTurn } from '../engine/engine';
import { EngineRegistry, type ResolvedEngine } from '../engine/engine-registry';
import { generationLimitOf, type GenerationLimit } from '../engine/generation-limit';
import type { GenerationParams } from '../shared/contract';
import { DEFAULT_GENERATION_PARAMS } from '../shared/contracts/chat';
import type { ChatEvent, MessageAttachment, MessageStats, MessageStatus, MessageView } from '../shared/contracts/conversations';
import { AppErrorException, storageErrorOf, toAppError, type AppError } from '../shared/errors';
import type { HistoryStore } from '../store/history-store';
import { titleFromAnswer } from './chat-title';
import { createConversationWithDefault } from './presets';

/** Flush interval for streamed text; the issue asks for at most 500 ms of loss. */
export const FLUSH_MS = 250;
/** A streaming save waits at most this long for another program's write lock, then retries later. */
export const SAVE_BUSY_TIMEOUT_MS = 50;
/** Retry delays for a final answer that could not be saved (disk full, database locked). */
const RETRY_MS = { first: 500, max: 10_000 };

/** What the user reads when a save fails; the answer stays in memory and is saved on the next success. */
export function unsavedNotice(error: AppError): string {
  if (error.code === 'STORAGE_FULL') return 'Disk full: answer kept, not yet saved. Free some space; it is saved as soon as writing works again.';
  if (error.code === 'STORAGE_BUSY') return 'The chat history is locked by another program: answer kept, not yet saved; retrying.';
  return `The answer could not be saved (${error.message}): answer kept, not yet saved; retrying.`;
}
export const SAVED_AGAIN_NOTICE = 'Saving works again: the answer is saved.';

type FinalSave = { status: MessageStatus; text: string; error: string | null; stats: MessageStats | null };


export interface ChatServiceOptions {
  store: HistoryStore;
  /** The local engine. */
  engine: Engine;
  attachments: AttachmentStore;
  /** Local and remote engines, chosen per conversation; default: the local engine only (nothing saved). */
  engines?: EngineRegistry;
  flushMs?: number;
}

type Emit = (event: ChatEvent) => void;

export class ChatService {
  private readonly store: HistoryStore;
  readonly engines: EngineRegistry;
  private readonly attachments: AttachmentStore;
  private readonly engine: Engine;
  private readonly flushMs: number;
  /** conversationId → stop switch of the answer being written there. */
  private readonly running = new Map<string, AbortController>();
  /** Answers found still "streaming" at start-up, now marked interrupted. */
  readonly interruptedAtStart: number;
  /** Finished answers whose final save failed (disk full, locked): message id → what to write. */
  private readonly unsaved = new Map<number, FinalSave>();
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MS.first;
  private readonly localEngine: Engine;
  /** The local engine's queue bound, shared with /v1. */
  private readonly limit: GenerationLimit;

  constructor(options: ChatServiceOptions) {
    this.store = options.store;
    this.engines = options.engines ?? new EngineRegistry({ local: options.engine });
    this.engine = options.engine;
    this.attachments = options.attachments;
    this.flushMs = options.flushMs ?? FLUSH_MS;
    this.localEngine = options.engine;
    this.limit = generationLimitOf(options.engine);
    this.interruptedAtStart = this.store.markInterrupted();
  }

  async send(
    input: { conversationId?: string | undefined; parentId?: number | null | undefined; text: string; attachments: { id: string; name: string }[] },
    emit: Emit,
    signal: AbortSignal,
  ): Promise<void> {
    if (input.conversationId) this.assertIdle(input.conversationId);
    // Refused before anything is written: the question stays in the composer.
    const slot = this.admit(input.conversationId);
    try {
      await this.sendAdmitted(input, emit, signal, slot);
    } finally {
      slot();
    }
  }

  private async sendAdmitted(
    input: { conversationId?: string | undefined; parentId?: number | null | undefined; text: string; attachments: { id: string; name: string }[] },
    emit: Emit,
    signal: AbortSignal,
    slot: () => void,
  ): Promise<void> {
    let conversationId = input.conversationId;
    if (!conversationId) {
      conversationId = createConversationWithDefault(this.store).id;
    }
    this.assertIdle(conversationId);
    const attachments = await this.describe(input.attachments);
    const view = this.store.getConversation(conversationId);
    const parentId = input.parentId !== undefined ? input.parentId : (view.messages.at(-1)?.id ?? null);
    // Provisional until the first answer names the chat (see nameFromAnswer).
    if (view.conversation.title === '') {
      this.store.autoTitle(conversationId, input.text.trim().replace(/\s+/g, ' ').slice(0, 60) || (attachments.length ? 'Image' : 'New chat'), false);
    }
    const user = this.store.addMessage({ conversationId, parentId, role: 'user', text: input.text, status: 'complete', attachments });
    // After the question is written, so the list gets its thumbnail while the answer streams.
    emit({ type: 'conversation', conversation: this.store.summary(conversationId) });
    emit({ type: 'message', message: user });
    await this.answer(user, emit, signal, slot);
  }

  async regenerate(messageId: number, emit: Emit, signal: AbortSignal): Promise<void> {
    const target = this.store.message(messageId);
    // Regenerating a user message answers it again; an assistant message gets a sibling.
    const userId = target.role === 'user' ? target.id : target.parentId;
    if (userId === null) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'This answer has no question to answer again' });
    const user = this.store.message(userId);
    this.assertIdle(user.conversationId);
    this.assertNotTrashed(user.conversationId);
    const slot = this.admit(user.conversationId);
    try {
      await this.answer(user, emit, signal, slot);
    } finally {
      slot();
    }
  }

  async edit(input: { messageId: number; text: string; attachments?: { id: string; name: string }[] | undefined }, emit: Emit, signal: AbortSignal): Promise<void> {
    const original = this.store.message(input.messageId);
    if (original.role !== 'user') throw new AppErrorException({ code: 'INVALID_INPUT', message: 'Only your own messages can be edited' });
    this.assertIdle(original.conversationId);
    const slot = this.admit(original.conversationId);
    try {
      await this.editAdmitted(original, input, emit, signal, slot);
    } finally {
      slot();
    }
  }

  private async editAdmitted(original: MessageView, input: { text: string; attachments?: { id: string; name: string }[] | undefined }, emit: Emit, signal: AbortSignal, slot: () => void): Promise<void> {
    const attachments = input.attachments ? await this.describe(input.attachments) : original.attachments;
    if (input.text.trim() === '' && attachments.length === 0) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'Write a message or attach an image' });
    const user = this.store.addMessage({
      conversationId: original.conversationId,
      parentId: original.parentId,
      role: 'user',
      text: input.text,
      status: 'complete',
      attachments,
    });
    emit({ type: 'message', message: user });
    await this.answer(user, emit, signal, slot);
  }

  /** A place in the local engine's queue (ENGINE_BUSY when full); remote engines keep their own limits. */
  private admit(conversationId: string | undefined): () => void {
    const engineId = conversationId ? this.store.summary(conversationId).engineId : null;
    return this.engines.isLocal(engineId) ? this.limit.take() : () => undefined;
  }

  /**
   * Continues an answer in place (one cut at Max tokens, or stopped): the prompt ends inside it
   * (prefill), the new text streams onto it and is saved with the new finish reason.
   */
  async continue(messageId: number, emit: Emit, signal: AbortSignal): Promise<void> {
    const target = this.store.message(messageId);
    if (target.role !== 'assistant' || target.parentId === null) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'Only an answer can be continued' });
    if (target.text.trim() === '') throw new AppErrorException({ code: 'INVALID_INPUT', message: 'This answer is empty: regenerate it instead' });
    this.assertIdle(target.conversationId);
    this.assertNotTrashed(target.conversationId);
    const slot = this.admit(target.conversationId);
    try {
      await this.answer(this.store.message(target.parentId), emit, signal, slot, target);
    } finally {
      slot();
    }
  }

  /** null: the conversation follows the global default engine. */
  setEngine(conversationId: string, engineId: string | null): void {
    if (engineId !== null && !this.engines.has(engineId)) {
      throw new AppErrorException({ code: 'NOT_FOUND', message: 'This engine does not exist (it may have been removed); choose another one' });
    }
    this.store.setEngine(conversationId, engineId);
  }

  stop(conversationId: string): boolean {
    const running = this.running.get(conversationId);
    running?.abort();
    return running !== undefined;
  }

  isRunning(conversationId: string): boolean {
    return this.running.has(conversationId);
  }

  /** Empties the trash, then deletes image files no remaining message refers to. */
  async emptyTrash(minAgeMs?: number): Promise<{ conversations: number; files: number }> {
    const ids = this.store.emptyTrash();
    // Their saved KV states would only take disk space now.
    await Promise.all(ids.map((id) => this.engine.forgetConversation?.(id)));
    const files = await this.attachments.collect(this.store.referencedAttachmentIds(), minAgeMs);
    return { conversations: ids.length, files };
  }

  private assertIdle(conversationId: string): void {
    if (this.running.has(conversationId)) {
      throw new AppErrorException({ code: 'ENGINE_BUSY', message: 'An answer is still being written in this conversation; stop it first' });
    }
  }

  private assertNotTrashed(conversationId: string): void {
    if (this.store.summary(conversationId).deletedAt !== null) {
      throw new AppErrorException({ code: 'INVALID_INPUT', message: 'This conversation is in the trash; restore it first' });
    }
  }

  private async describe(refs: { id: string; name: string }[]): Promise<MessageAttachment[]> {
    const out: MessageAttachment[] = [];
    for (const ref of refs) out.push({ ...(await this.attachments.info(ref.id)), name: ref.name });
    return out;
  }

  /** A conversation whose remote engine was removed goes back to the default, and is told so once. */
  private async engineFor(conversationId: string, emit: Emit): Promise<ResolvedEngine> {
    const chosen = this.store.summary(conversationId).engineId;
    const target = await this.engines.resolve(chosen);
    if (target.notice) {
      this.store.setEngine(conversationId, null);
      emit({ type: 'conversation', conversation: this.store.summary(conversationId) });
      emit({ type: 'notice', text: target.notice });
    }
    return target;
  }

  /** The conversation down to `last`: a user message to answer, or an answer to continue. */
  private async turnsFor(last: MessageView): Promise<EngineTurn[]> {
    const turns: EngineTurn[] = [];
    for (const m of this.store.pathTo(last.id)) {
      // An empty answer (failed or stopped at once) would only confuse the model.
      if (m.role === 'assistant' && m.text.trim() === '') continue;
      const images = [];
      for (const a of m.attachments) images.push({ id: a.id, path: await this.attachments.pathOf(a.id) });
      turns.push({ role: m.role, text: m.text, images });
    }
    return turns;
  }

  /**
   * Answers `user` in a new message, or with `continued` grows that answer in place. slot: the
   * queue place taken by admit, given back once the engine counts the request.
   */
  private async answer(user: MessageView, emit: Emit, signal: AbortSignal, slot: () => void, continued?: MessageView): Promise<void> {
    const conversationId = user.conversationId;
    this.assertIdle(conversationId);
    const stopper = new AbortController();
    this.running.set(conversationId, stopper);
    let assistant: MessageView | null = null;
    const before = continued?.text ?? '';
    let text = before;
    let flushed = before;
    let timer: NodeJS.Timeout | undefined;
    /** The last failed save, while the text lives only in memory. */
    let saveError: AppError | null = null;
    // Never throws: it runs on a timer, where an exception would end the process.
    const flush = (): void => {
      if (!assistant || text === flushed) return;
      try {
        const snapshot = text;
        this.store.withBusyTimeout(SAVE_BUSY_TIMEOUT_MS, () => this.store.updateText(assistant!.id, snapshot));
        flushed = snapshot;
        if (saveError) emit({ type: 'notice', text: SAVED_AGAIN_NOTICE });
        saveError = null;
      } catch (err) {
        const failure = storageErrorOf(err);
        if (!failure) console.error('firellava chat: saving the streamed answer failed (kept in memory):', err);
        if (!saveError) emit({ type: 'notice', text: unsavedNotice(failure ?? toAppError(err)) });
        saveError = failure ?? toAppError(err);
      }
    };
    let status: MessageStatus = 'error';
    let error: string | null = null;
    let stats: MessageStats | null = null;
    try {
      const turns = await this.turnsFor(continued ?? user);
      const settings = this.store.settings(conversationId);
      const params: GenerationParams = { ...DEFAULT_GENERATION_PARAMS, ...settings.params };
      const target = await this.engineFor(conversationId, emit);
      // Streaming again: a crash now leaves it "interrupted", with the text so far.
      assistant = continued
        ? this.store.finishMessage(continued.id, { status: 'streaming', text: before, error: null, stats: continued.stats })
        : this.store.addMessage({ conversationId, parentId: user.id, role: 'assistant', text: '', status: 'streaming', engine: target.answeredBy });
      emit({ type: 'message', message: assistant });
      // No engine to ask (e.g. a remote one without its key): the answer says why, the question stays.
      if (target.error) throw new AppErrorException(target.error);
      const messageId = assistant.id;
      timer = setInterval(flush, this.flushMs);
      const both = AbortSignal.any([signal, stopper.signal]);
      const began = performance.now();
      const generating = target.engine.generate(
        { conversationId, system: settings.system, turns, params },
        (event) => {
          if (event.type === 'delta') {
            text += event.text;
            emit({ type: 'delta', messageId, text: event.text });
          } else if (event.type === 'phase' || event.type === 'image') {
            emit(event);
          }
        },
        both,
      );
      slot(); // the engine's queue counts it from here
      const last = await generating;
      if (target.engine === this.localEngine) this.limit.recordDuration(performance.now() - began);
      if (last.type === 'done') {
        if (last.text) text = before + last.text;
        status = last.finishReason === 'cancelled' || both.aborted ? 'stopped' : 'complete';
        stats = {
          finishReason: last.finishReason,
          completionTokens: (continued?.stats?.completionTokens ?? 0) + last.usage.completionTokens,
          tokensPerSecond: last.timings.tokensPerSecond,
          ttftMs: last.timings.ttftMs,
          totalMs: last.timings.totalMs,
        };
      } else {
        status = both.aborted ? 'stopped' : 'error';
        error = both.aborted ? null : last.error.message;
      }
    } catch (err) {
      if (!assistant) throw err; // nothing written for the answer yet: the caller sees the reason
      status = signal.aborted || stopper.signal.aborted ? 'stopped' : 'error';
      error = status === 'error' ? toAppError(err).message : null;
    } finally {
      clearInterval(timer);
      this.running.delete(conversationId);
      if (assistant) {
        this.finish(assistant, { status, text, error, stats }, emit, saveError !== null);
        if (status === 'complete' || status === 'stopped') this.nameFromAnswer(conversationId, text, emit);
      }
    }
  }

  /** A chat the user did not name takes its title from its first answer with readable words. */
  private nameFromAnswer(conversationId: string, text: string, emit: Emit): void {
    const title = titleFromAnswer(text);
    if (!title) return;
    try {
      const named = this.store.withBusyTimeout(SAVE_BUSY_TIMEOUT_MS * 2, () => this.store.autoTitle(conversationId, title, true));
      if (named) emit({ type: 'conversation', conversation: this.store.summary(conversationId) });
    } catch (err) {
      // The answer is what matters; the provisional title stays (the next answer names the chat).
      if (!storageErrorOf(err)) console.error('firellava chat: naming the conversation failed:', err);
    }
  }

  /** Saves the final state; when storage refuses, the answer is shown from memory and saved later. */
  private finish(assistant: MessageView, final: FinalSave, emit: Emit, told: boolean): void {
    const result = this.trySave(assistant.id, final);
    if (result === 'gone') return; // deleted for good while the answer streamed: nothing left to save
    if (result !== 'failed') {
      if (told) emit({ type: 'notice', text: SAVED_AGAIN_NOTICE });
      emit({ type: 'finished', message: result });
      return;
    }
    this.unsaved.set(assistant.id, final);
    const failure = this.lastSaveError ?? { code: 'STORAGE_FAILED', message: 'unknown' };
    if (!told) emit({ type: 'notice', text: unsavedNotice(failure) });
    emit({ type: 'finished', message: { ...assistant, ...final, updatedAt: this.store.now() } });
    this.scheduleRetry();
  }

  private lastSaveError: AppError | null = null;

  /** The saved view, 'gone' (row deleted), or 'failed' (kept for a retry; a bug is logged, not hidden). */
  private trySave(id: number, final: FinalSave): MessageView | 'gone' | 'failed' {
    try {
      return this.store.withBusyTimeout(SAVE_BUSY_TIMEOUT_MS * 2, () => this.store.finishMessage(id, final));
    } catch (err) {
      if (err instanceof AppErrorException && err.error.code === 'NOT_FOUND') return 'gone';
      const failure = storageErrorOf(err);
      if (!failure) console.error('firellava chat: saving a finished answer failed (kept in memory, retrying):', err);
      this.lastSaveError = failure ?? toAppError(err);
      return 'failed';
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.unsaved.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const before = this.unsaved.size;
      this.saveUnsaved();
      this.retryDelay = this.unsaved.size < before ? RETRY_MS.first : Math.min(this.retryDelay * 2, RETRY_MS.max);
      this.scheduleRetry();
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  /** Answers finished but not yet saved (disk full, database locked). */
  get unsavedCount(): number {
    return this.unsaved.size;
  }

  /** At shutdown: one last try; what still fails stays "streaming" on disk and reads "interrupted" on the next start. */
  dispose(): number {
    const left = this.saveUnsaved();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.unsaved.clear();
    return left;
  }

  /** Tries every pending final save now (the retry timer and shutdown call it); returns how many remain. */
  saveUnsaved(): number {
    for (const [id, final] of [...this.unsaved]) {
      const result = this.trySave(id, final);
      if (result !== 'failed') this.unsaved.delete(id);
    }
    if (this.unsaved.size === 0 && this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    return this.unsaved.size;
  }
}
