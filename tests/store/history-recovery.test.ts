// A damaged history.sqlite: the app still starts, the damaged file is kept aside byte-identical,
// the readable conversations come back in a new file, and the user is told where the old one is.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend } from '../../electron/backend/backend';
import type { Result } from '../../electron/shared/errors';
import type { AppInfo } from '../../electron/shared/types';
import { HistoryStore } from '../../electron/store/history-store';
import { FakeEngine } from '../helpers/fake-engine';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CONVERSATIONS = 40;
const TURNS = 12;
const textOf = (c: number, m: number): string => `Conversation ${c} turn ${m}: ${'the quick brown fox jumps over a lazy dog '.repeat(8)}`;

/** A real history file of a few hundred pages, closed cleanly (no -wal left). */
function writeHistory(): { dir: string; file: string; titles: Map<string, string[]> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-recover-'));
  dirs.push(dir);
  const file = path.join(dir, 'history.sqlite');
  const store = HistoryStore.open(file);
  const titles = new Map<string, string[]>();
  for (let c = 0; c < CONVERSATIONS; c++) {
    const conv = store.createConversation(`Chat ${c}`);
    let parent: number | null = null;
    const texts: string[] = [];
    for (let m = 0; m < TURNS; m++) {
      parent = store.addMessage({ conversationId: conv.id, parentId: parent, role: m % 2 ? 'assistant' : 'user', text: textOf(c, m), status: 'complete' }).id;
      texts.push(textOf(c, m));
    }
    titles.set(`Chat ${c}`, texts);
  }
  store.close();
  return { dir, file, titles };
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

/** Every message the new history holds is an exact original, in an intact order. */
function expectOnlyOriginals(store: HistoryStore, titles: Map<string, string[]>): number {
  let complete = 0;
  for (const conv of store.listConversations({ limit: 1000 })) {
    const texts = store.allMessages(conv.id).map((m) => m.text);
    const original = titles.get(conv.title);
    if (!original) continue; // a "Recovered chat" for messages whose conversation row was lost
    for (const t of texts) expect(original).toContain(t);
    if (texts.length === original.length) complete++;
  }
  return complete;
}

describe('a damaged chat history', () => {
  it('with random bytes over pages of messages: starts, keeps the file aside unchanged, recovers the readable chats and says where', async () => {
    const { dir, file, titles } = writeHistory();
    // Two pages in the middle of the messages table.
    const probe = new Database(file, { readonly: true });
    const pageSize = probe.pragma('page_size', { simple: true }) as number;
    const pages = (probe.prepare("SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf' ORDER BY pageno").all() as { pageno: number }[]).map((r) => r.pageno);
    probe.close();
    expect(pages.length).toBeGreaterThan(20);
    const victim = pages[Math.floor(pages.length / 2)]!;
    overwrite(file, (victim - 1) * pageSize, randomBytes(pageSize * 2));
    const damaged = sha(file);

    const backend = createBackend({ dataDir: dir, engine: new FakeEngine(), app: { name: 'FireLLaVA', version: '0.0.0-test' } });
    try {
      const recovery = backend.history.recovery!;
      expect(recovery).not.toBeNull();
      expect(recovery.asidePath).toMatch(/history\.sqlite\.damaged-/);
      expect(sha(recovery.asidePath)).toBe(damaged); // byte-identical, never written into
      expect(recovery.readable).toBe(true);

      const complete = expectOnlyOriginals(backend.history, titles);
      console.log(`random bytes over 2 of ${pages.length} message pages: ${complete}/${CONVERSATIONS} chats complete, ${recovery.messages}/${CONVERSATIONS * TURNS} messages recovered`);
      expect(complete).toBeGreaterThanOrEqual(CONVERSATIONS - 6); // two pages hold a few chats' turns
      expect(complete).toBeLessThan(CONVERSATIONS); // something really was lost
      expect(recovery.messages).toBeGreaterThan(CONVERSATIONS * TURNS * 0.8);
      // Sound again: search works on the rebuilt index and new messages are kept.
      expect(backend.history.db.pragma('quick_check', { simple: true })).toBe('ok');
      expect(backend.history.search('lazy dog').length).toBeGreaterThan(0);
      const conv = backend.history.createConversation('After the crash');
      backend.history.addMessage({ conversationId: conv.id, parentId: null, role: 'user', text: 'still here', status: 'complete' });

      // The user is told, with the path (the renderer shows app.info's notices; serve prints them).
      const info = (await backend.dispatcher.call('app.info', {}, { transport: 'http' })) as Result<AppInfo>;
      expect(info.ok && info.value.notices.join('\n')).toContain(recovery.asidePath);
    } finally {
      await backend.close();
    }
    // The next start finds a sound file and says nothing.
    const again = HistoryStore.open(file);
    expect(again.recovery).toBeNull();
    expect(again.listConversations({ limit: 1000 }).map((c) => c.title)).toContain('After the crash');
    again.close();
  });

  it('with a damaged header ("file is not a database"): starts, keeps the file aside unchanged and recovers the chats', () => {
    const { dir, file, titles } = writeHistory();
    overwrite(file, 0, randomBytes(100));
    const damaged = sha(file);

    const store = HistoryStore.open(file);
    try {
      const recovery = store.recovery!;
      expect(recovery.reason).toMatch(/not a database|malformed|corrupt/i);
      expect(sha(recovery.asidePath)).toBe(damaged);
      expect(readdirSync(dir).filter((n) => n.includes('damaged'))).toEqual([path.basename(recovery.asidePath)]);
      expect(expectOnlyOriginals(store, titles)).toBe(CONVERSATIONS); // only the header was hit
      expect(recovery).toMatchObject({ readable: true, conversations: CONVERSATIONS, messages: CONVERSATIONS * TURNS });
    } finally {
      store.close();
    }
    expect(existsSync(`${file}.recovering`)).toBe(false);
  });

  it('with nothing readable: starts with an empty history and still keeps the file aside', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-recover-'));
    dirs.push(dir);
    const file = path.join(dir, 'history.sqlite');
    const junk = randomBytes(64 * 1024);
    writeFileSync(file, junk);
    const store = HistoryStore.open(file);
    expect(store.recovery).toMatchObject({ readable: false, conversations: 0 });
    expect(readFileSync(store.recovery!.asidePath).equals(junk)).toBe(true);
    expect(store.listConversations()).toEqual([]);
    store.close();
  });
});
