// A streaming answer whose saves fail (database locked by another program, disk full) on the real
// engine (tiny generated model) and a real SQLite file: nothing throws out of the flush timer, the
// text stays in memory, the user is told, and it is saved once writing works again.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { ChatService, SAVED_AGAIN_NOTICE } from '../../electron/chat/chat-service';
import type { LocalEngine } from '../../electron/engine/engine-host';
import type { ChatEvent } from '../../electron/shared/contracts/conversations';
import { toAppError } from '../../electron/shared/errors';
import { HistoryStore } from '../../electron/store/history-store';
import { startEngine } from '../helpers/engine';
import { fillMessagesPage } from '../helpers/fill-database';
import { getFixtures } from '../helpers/fixtures';

let engine: LocalEngine;
let dir: string;
let file: string;
let store: HistoryStore;
let attachments: AttachmentStore;

beforeAll(async () => {
  const fx = await getFixtures();
  engine = startEngine();
  expect((await engine.load(fx.pair)).ok).toBe(true);
});
afterAll(async () => {
  await engine?.dispose();
});

const fresh = (): ChatService => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-save-'));
  file = path.join(dir, 'history.sqlite');
  store = HistoryStore.open(file);
  attachments = createAttachmentStore(dir);
  // A short flush interval: the tiny model answers in a fraction of a second.
  return new ChatService({ store, engine, attachments, flushMs: 5 });
};
afterEach(() => {
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const until = async (ok: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

const longAnswer = (chat: ChatService): string => {
  const c = store.createConversation('Long');
  store.updateSettings(c.id, { params: { maxTokens: 200, temperature: 0, seed: 7 } });
  void chat;
  return c.id;
};

describe('saving a streaming answer when the database refuses writes', () => {
  it('a write lock held by another connection: the answer is kept, the user told, and it is saved once the lock is gone', async () => {
    const chat = fresh();
    const conversationId = longAnswer(chat);
    const other = new Database(file);
    const events: ChatEvent[] = [];
    let locked = false;
    let assistantId = 0;
    const started = Date.now();
    try {
      await chat.send(
        { conversationId, text: 'Tell a long story', attachments: [] },
        (e) => {
          events.push(e);
          if (e.type === 'message' && e.message.role === 'assistant') {
            assistantId = e.message.id;
            other.exec('BEGIN IMMEDIATE'); // a backup tool holding the write lock
            locked = true;
          }
        },
        new AbortController().signal,
      );
    } finally {
      if (!locked) other.close();
    }
    // No flush waited the 5 s busy timeout (the old code froze there, then crashed the process).
    expect(Date.now() - started).toBeLessThan(4000);
    const notices = events.flatMap((e) => (e.type === 'notice' ? [e.text] : []));
    expect(notices).toEqual(['The chat history is locked by another program: answer kept, not yet saved; retrying.']);
    const fin = events.find((e) => e.type === 'finished');
    if (fin?.type !== 'finished') throw new Error('no finished event');
    expect(fin.message.status).toBe('complete');
    expect(fin.message.text.length).toBeGreaterThan(20);
    expect(chat.unsavedCount).toBe(1);
    // Still nothing of the answer on disk while the lock is held.
    expect(store.message(assistantId).status).toBe('streaming');

    other.exec('COMMIT');
    other.close();
    await until(() => chat.unsavedCount === 0);
    const saved = store.message(assistantId);
    expect(saved.status).toBe('complete');
    expect(saved.text).toBe(fin.message.text);
    expect(store.search(fin.message.text.split(/\s+/).find((w) => /^\p{L}{3,}$/u.test(w)) ?? 'x').some((h) => h.messageId === assistantId)).toBe(true);
  });

  it('disk full (SQLITE_FULL) mid-answer: kept, told "disk full", saved after space is freed', async () => {
    const chat = fresh();
    const conversationId = longAnswer(chat);
    const events: ChatEvent[] = [];
    let assistantId = 0;
    await chat.send(
      { conversationId, text: 'Tell a long story', attachments: [] },
      (e) => {
        events.push(e);
        if (e.type === 'message' && e.message.role === 'assistant') {
          assistantId = e.message.id;
          // A real SQLITE_FULL: fill the one page that holds the messages but for 80 bytes (the
          // answer must then grow the file), and let the database not grow by a single page.
          fillMessagesPage(store.db, 80);
          store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
        }
      },
      new AbortController().signal,
    );
    const notices = events.flatMap((e) => (e.type === 'notice' ? [e.text] : []));
    expect(notices[0]).toMatch(/^Disk full: answer kept, not yet saved/);
    const fin = events.find((e) => e.type === 'finished');
    if (fin?.type !== 'finished') throw new Error('no finished event');
    expect(fin.message.text.length).toBeGreaterThan(20);
    expect(chat.unsavedCount).toBe(1);

    store.db.pragma('max_page_count = 1073741823');
    await until(() => chat.unsavedCount === 0);
    expect(store.message(assistantId)).toMatchObject({ status: 'complete', text: fin.message.text });
  });

  it('saves at once when only a periodic flush failed, and says so', async () => {
    const chat = fresh();
    const conversationId = longAnswer(chat);
    const events: ChatEvent[] = [];
    const other = new Database(file);
    let releaseAt = 0;
    await chat.send(
      { conversationId, text: 'Tell a long story', attachments: [] },
      (e) => {
        events.push(e);
        if (e.type === 'message' && e.message.role === 'assistant') {
          other.exec('BEGIN IMMEDIATE');
          releaseAt = 1;
        }
        // The first "not saved" notice: let go of the lock, the next save succeeds.
        if (e.type === 'notice' && releaseAt === 1) {
          other.exec('COMMIT');
          releaseAt = 2;
        }
      },
      new AbortController().signal,
    );
    other.close();
    const notices = events.flatMap((e) => (e.type === 'notice' ? [e.text] : []));
    expect(notices[0]).toMatch(/locked by another program/);
    expect(notices.at(-1)).toBe(SAVED_AGAIN_NOTICE);
    const fin = events.find((e) => e.type === 'finished');
    if (fin?.type !== 'finished') throw new Error('no finished event');
    expect(chat.unsavedCount).toBe(0);
    expect(store.message(fin.message.id)).toMatchObject({ status: 'complete', text: fin.message.text });
  });

  it('an answer whose conversation was deleted for good is dropped quietly, not retried', async () => {
    const chat = fresh();
    const conversationId = longAnswer(chat);
    const events: ChatEvent[] = [];
    await chat.send(
      { conversationId, text: 'Tell a long story', attachments: [] },
      (e) => {
        events.push(e);
        if (e.type === 'message' && e.message.role === 'assistant') {
          store.trash(conversationId);
          store.emptyTrash();
        }
      },
      new AbortController().signal,
    );
    expect(events.filter((e) => e.type === 'notice' || e.type === 'finished')).toEqual([]);
    expect(chat.unsavedCount).toBe(0);
  });

  it('a question that cannot be saved on a full disk fails with STORAGE_FULL and a clear message', async () => {
    const chat = fresh();
    const c = store.createConversation('Full');
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    const err = await chat
      .send({ conversationId: c.id, text: 'x'.repeat(20_000), attachments: [] }, () => undefined, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(toAppError(err)).toMatchObject({ code: 'STORAGE_FULL', message: expect.stringMatching(/^The disk is full/) });
  });
});
