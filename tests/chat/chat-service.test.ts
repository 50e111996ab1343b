// The chat service on the real engine (tiny generated model) and a real SQLite file: what is in
// the database while and after an answer streams.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { ChatService } from '../../electron/chat/chat-service';
import type { LocalEngine } from '../../electron/engine/engine-host';
import type { ChatEvent } from '../../electron/shared/contracts/conversations';
import { AppErrorException } from '../../electron/shared/errors';
import { HistoryStore } from '../../electron/store/history-store';
import { startEngine } from '../helpers/engine';
import { FakeEngine } from '../helpers/fake-engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { getSlowPair } from '../helpers/serve';

let fx: Fixtures;
let engine: LocalEngine;
let dir: string;
let store: HistoryStore;
let attachments: AttachmentStore;
let chat: ChatService;

beforeAll(async () => {
  fx = await getFixtures();
  engine = startEngine();
  expect((await engine.load(fx.pair)).ok).toBe(true);
});
afterAll(async () => {
  await engine?.dispose();
});

const fresh = (): void => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-chat-'));
  store = HistoryStore.open(path.join(dir, 'history.sqlite'));
  attachments = createAttachmentStore(dir);
  chat = new ChatService({ store, engine, attachments });
};
afterEach(() => {
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const run = async (fn: (emit: (e: ChatEvent) => void, signal: AbortSignal) => Promise<void>, signal = new AbortController().signal): Promise<ChatEvent[]> => {
  const events: ChatEvent[] = [];
  await fn((e) => events.push(e), signal);
  return events;
};
const finished = (events: ChatEvent[]) => {
  const f = events.find((e) => e.type === 'finished');
  if (f?.type !== 'finished') throw new Error('no finished event');
  return f.message;
};

describe('chat service', () => {
  it('persists the question with its image and the streamed answer; the answer row exists from the first token', async () => {
    fresh();
    const img = await attachments.add(readFileSync(fx.images.png32));
    const statusAtFirstDelta: string[] = [];
    const events: ChatEvent[] = [];
    await chat.send({ text: 'What is in this picture?', attachments: [{ id: img.id, name: 'shot.png' }] }, (e) => {
      events.push(e);
      if (e.type === 'delta' && statusAtFirstDelta.length === 0) statusAtFirstDelta.push(store.message(e.messageId).status);
    }, new AbortController().signal);
    expect(statusAtFirstDelta).toEqual(['streaming']);
    const conv = events.find((e) => e.type === 'conversation');
    if (conv?.type !== 'conversation') throw new Error('no conversation event');
    expect(conv.conversation.title).toBe('What is in this picture?');
    expect(events.some((e) => e.type === 'image' && e.attachmentId === img.id)).toBe(true);
    const answer = finished(events);
    const deltas = events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('');
    expect(answer.status).toBe('complete');
    expect(answer.text.length).toBeGreaterThan(0);
    // What was streamed is what was saved (the engine's final text is authoritative for the rest).
    expect(answer.text.startsWith(deltas)).toBe(true);
    expect(answer.stats?.completionTokens).toBeGreaterThan(0);

    const view = store.getConversation(conv.conversation.id);
    expect(view.messages.map((m) => [m.role, m.status])).toEqual([['user', 'complete'], ['assistant', 'complete']]);
    expect(view.messages[0]!.attachments).toEqual([{ ...img, name: 'shot.png' }]);
    expect(view.messages[1]!.text).toBe(answer.text);
  });

  it('saves a text answer cut at Max tokens as cut (finishReason length), with every token counted', async () => {
    fresh();
    const c = store.createConversation('Cut');
    store.updateSettings(c.id, { params: { maxTokens: 3, temperature: 0, seed: 5 } });
    const answer = finished(await run((emit, s) => chat.send({ conversationId: c.id, text: 'Write a long story about a mug.', attachments: [] }, emit, s)));
    expect(answer.status).toBe('complete');
    expect(answer.stats).toMatchObject({ finishReason: 'length', completionTokens: 3 });
    expect(store.message(answer.id).stats).toMatchObject({ finishReason: 'length' });
  });

  it('Continue grows a cut answer in place: the same text a longer limit writes, saved with the new finish reason', async () => {
    fresh();
    const c = store.createConversation('Continue');
    const greedy = { temperature: 0, topK: 1, seed: 5 };
    store.updateSettings(c.id, { params: { maxTokens: 16, ...greedy } });
    const whole = finished(await run((emit, s) => chat.send({ conversationId: c.id, text: 'Write a long story about a mug.', attachments: [] }, emit, s)));
    store.updateSettings(c.id, { params: { maxTokens: 8, ...greedy } });
    const cut = finished(await run((emit, s) => chat.regenerate(whole.id, emit, s)));
    expect(cut.stats).toMatchObject({ finishReason: 'length', completionTokens: 8 });
    expect(whole.text.startsWith(cut.text)).toBe(true);

    const events = await run((emit, s) => chat.continue(cut.id, emit, s));
    const grown = finished(events);
    expect(grown.id).toBe(cut.id);
    const streamed = events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('');
    expect(cut.text + streamed).toBe(whole.text);
    expect(store.message(cut.id)).toMatchObject({ text: whole.text, status: 'complete', stats: { finishReason: 'length', completionTokens: 16 } });
    // Still two versions of the answer, not a third.
    expect(store.getConversation(c.id).messages.at(-1)!.versions.ids).toEqual([whole.id, cut.id]);
    await expect(run((emit, s) => chat.continue(store.getConversation(c.id).messages[0]!.id, emit, s))).rejects.toThrow(/Only an answer/);
  });

  it('continues a conversation, regenerates as a sibling version and edits as a new branch', async () => {
    fresh();
    const first = await run((emit, s) => chat.send({ text: 'Name a colour.', attachments: [] }, emit, s));
    const a1 = finished(first);
    const id = a1.conversationId;
    const second = await run((emit, s) => chat.send({ conversationId: id, text: 'Another one?', attachments: [] }, emit, s));
    expect(store.getConversation(id).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    const a2 = finished(second);

    const regen = finished(await run((emit, s) => chat.regenerate(a2.id, emit, s)));
    expect(regen.parentId).toBe(a2.parentId);
    let view = store.getConversation(id);
    expect(view.messages.at(-1)!.versions).toEqual({ index: 1, ids: [a2.id, regen.id] });

    const q2 = view.messages[2]!;
    const edited = await run((emit, s) => chat.edit({ messageId: q2.id, text: 'A warm colour?' }, emit, s));
    view = store.getConversation(id);
    expect(view.messages.map((m) => m.text.slice(0, 14))).toEqual(['Name a colour.', a1.text.slice(0, 14), 'A warm colour?', finished(edited).text.slice(0, 14)]);
    expect(view.messages[2]!.versions.ids).toEqual([q2.id, view.messages[2]!.id]);
    // The old question and both its answers are still there.
    store.switchVersion(q2.id);
    expect(store.getConversation(id).messages.map((m) => m.id)).toEqual([view.messages[0]!.id, a1.id, q2.id, regen.id]);
  });

  it('stops on request, keeping the partial answer as "stopped"', async () => {
    fresh();
    // The tiny model writes hundreds of tokens in 0.1 s, before a stop could land: use the slower pair.
    const slowEngine = startEngine();
    expect((await slowEngine.load(await getSlowPair())).ok).toBe(true);
    chat = new ChatService({ store, engine: slowEngine, attachments });
    const c = store.createConversation('Long');
    store.updateSettings(c.id, { params: { maxTokens: 400 } });
    const controller = new AbortController();
    const events = await run(
      (emit, s) =>
        chat.send({ conversationId: c.id, text: 'Tell a long story', attachments: [] }, (e) => {
          emit(e);
          if (e.type === 'delta') expect(chat.stop(c.id)).toBe(true);
        }, s),
      controller.signal,
    );
    const answer = finished(events);
    expect(answer.status).toBe('stopped');
    expect(answer.text.length).toBeGreaterThan(0);
    expect(answer.stats?.completionTokens ?? 0).toBeLessThan(400);
    expect(chat.isRunning(c.id)).toBe(false);
    await slowEngine.dispose();
  });

  it('refuses a second answer in the same conversation while one streams', async () => {
    fresh();
    const slow = new FakeEngine({ delayMs: 30 });
    const service = new ChatService({ store, engine: slow, attachments });
    const c = store.createConversation('Busy');
    const first = run((emit, s) => service.send({ conversationId: c.id, text: 'one', attachments: [] }, emit, s));
    await new Promise((r) => setTimeout(r, 10));
    await expect(run((emit, s) => service.send({ conversationId: c.id, text: 'two', attachments: [] }, emit, s))).rejects.toThrow(/still being written/);
    await first;
    expect(store.getConversation(c.id).messages.map((m) => m.text)).toEqual(['one', 'Hello from the fake engine.']);
  });

  it('flushes streamed text to the database while streaming (at most 500 ms behind)', async () => {
    fresh();
    const words = Array.from({ length: 20 }, (_, i) => ` w${i}`);
    const slow = new FakeEngine({ words, delayMs: 50 });
    const service = new ChatService({ store, engine: slow, attachments });
    const seen: { at: number; db: string; sent: string }[] = [];
    let sent = '';
    let assistantId = 0;
    const started = Date.now();
    const poll = setInterval(() => {
      if (assistantId) seen.push({ at: Date.now() - started, db: store.message(assistantId).text, sent });
    }, 20);
    await run((emit, s) =>
      service.send({ text: 'count', attachments: [] }, (e) => {
        emit(e);
        if (e.type === 'message' && e.message.role === 'assistant') assistantId = e.message.id;
        if (e.type === 'delta') sent += e.text;
      }, s),
    );
    clearInterval(poll);
    // Mid-stream the database already holds part of the answer...
    expect(seen.some((s) => s.db.length > 0 && s.db.length < words.join('').length)).toBe(true);
    // ...and never lags what was streamed by more than 500 ms of words (10 words at 50 ms).
    for (const s of seen) expect(s.sent.length - s.db.length).toBeLessThanOrEqual(' w10'.length * 10);
  });

  it('marks an answer left streaming by a crash as interrupted at start-up, and the conversation continues', async () => {
    fresh();
    const c = store.createConversation('Crash');
    const q = store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'q', status: 'complete' });
    const a = store.addMessage({ conversationId: c.id, parentId: q.id, role: 'assistant', text: 'partial', status: 'streaming' });
    const restarted = new ChatService({ store, engine, attachments });
    expect(restarted.interruptedAtStart).toBe(1);
    expect(store.message(a.id).status).toBe('interrupted');
    const next = finished(await run((emit, s) => restarted.send({ conversationId: c.id, text: 'go on', attachments: [] }, emit, s)));
    expect(next.status).toBe('complete');
    expect(store.getConversation(c.id).messages.map((m) => m.status)).toEqual(['complete', 'interrupted', 'complete', 'complete']);
  });

  it('writes nothing for an unknown image and says why', async () => {
    fresh();
    const error = await run((emit, s) => chat.send({ text: 'look', attachments: [{ id: 'c'.repeat(64), name: 'x' }] }, emit, s)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppErrorException);
    expect((error as AppErrorException).error.code).toBe('NOT_FOUND');
    expect(store.db.prepare('SELECT count(*) AS n FROM messages').get()).toEqual({ n: 0 });
  });

  it('empties the trash and deletes image files only it used', async () => {
    fresh();
    const keep = await attachments.add(readFileSync(fx.images.png32));
    const drop = await attachments.add(readFileSync(fx.images.png64x48));
    const kept = store.createConversation('kept');
    const gone = store.createConversation('gone');
    store.addMessage({ conversationId: kept.id, parentId: null, role: 'user', text: 'k', status: 'complete', attachments: [{ ...keep, name: '' }] });
    store.addMessage({ conversationId: gone.id, parentId: null, role: 'user', text: 'g', status: 'complete', attachments: [{ ...drop, name: '' }] });
    store.trash(gone.id);
    expect(await chat.emptyTrash(0)).toEqual({ conversations: 1, files: 1 });
    await expect(attachments.pathOf(drop.id)).rejects.toThrow(/not stored/);
    expect(await attachments.pathOf(keep.id)).toContain(keep.id);
  });

  it("deletes a conversation's saved KV state when the trash is emptied", async () => {
    fresh();
    const cacheDir = path.join(dir, 'kv-cache');
    const cached = startEngine({ cacheDir });
    try {
      expect((await cached.load(fx.pair)).ok).toBe(true);
      chat = new ChatService({ store, engine: cached, attachments });
      const c = store.createConversation('cached');
      finished(await run((emit, s) => chat.send({ conversationId: c.id, text: 'Hello there.', attachments: [] }, emit, s)));
      const bytes = await cached.refreshCacheSize();
      expect(bytes).toBeGreaterThan(0);
      store.trash(c.id);
      await chat.emptyTrash(0);
      expect(await cached.refreshCacheSize()).toBe(0);
    } finally {
      await cached.dispose();
    }
  });
});
