import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { getSetting, setSetting } from '../../electron/store/app-settings';
import { MIGRATIONS, SCHEMA_VERSION } from '../../electron/store/migrations';
import { HistoryStore, toFtsQuery } from '../../electron/store/history-store';
import { openDatabase } from '../../electron/store/open-database';
import { AppErrorException } from '../../electron/shared/errors';

const dirs: string[] = [];
const tempDb = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'firellava-store-'));
  dirs.push(d);
  return path.join(d, 'history.sqlite');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const att = (n: number) => ({ id: String(n).repeat(64).slice(0, 64), mimeType: 'image/png', byteLength: 100, width: 10, height: 10, name: `img${n}.png` });

describe('schema and migrations', () => {
  it('creates a new database at the current version with WAL and foreign keys', () => {
    const file = tempDb();
    const store = HistoryStore.open(file);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.backupPath).toBeNull(); // nothing to back up in a new file
    store.close();
  });

  it('migration 1 makes conversations and messages with parent links, enforced by foreign keys', () => {
    const { db } = openDatabase(tempDb(), { migrations: MIGRATIONS.slice(0, 1) });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['conversations', 'messages', 'attachments', 'message_attachments']));
    expect(tables).not.toContain('messages_fts');
    expect(() => db.prepare("INSERT INTO messages (conversation_id, role, status, created_at, updated_at) VALUES ('nope', 'user', 'complete', 1, 1)").run()).toThrow(/FOREIGN KEY/);
    db.close();
  });

  it('migration 2 indexes messages written under version 1, and backs the file up first', () => {
    const file = tempDb();
    const v1 = openDatabase(file, { migrations: MIGRATIONS.slice(0, 1) }).db;
    v1.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('c1', 'Old chat', 1, 1)").run();
    v1.prepare("INSERT INTO messages (conversation_id, role, text, status, created_at, updated_at) VALUES ('c1', 'assistant', 'a turquoise teapot', 'complete', 1, 1)").run();
    v1.close();

    const store = HistoryStore.open(file);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.search('turquoise').map((h) => h.conversationTitle)).toEqual(['Old chat']);
    expect(store.backupPath).toMatch(/history\.sqlite\.v1-.*\.bak$/);
    const backup = new Database(store.backupPath!, { readonly: true });
    expect(backup.pragma('user_version', { simple: true })).toBe(1);
    expect(backup.prepare('SELECT text FROM messages').get()).toEqual({ text: 'a turquoise teapot' });
    backup.close();
    store.close();
  });

  it('migration 3 finds the first messages of one conversation through an index, not a scan of all', () => {
    const file = tempDb();
    openDatabase(file, { migrations: MIGRATIONS.slice(0, 2) }).db.close();
    const { db } = openDatabase(file, { migrations: MIGRATIONS.slice(0, 3) });
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT id FROM messages WHERE conversation_id = 'c' AND parent_id IS NULL")
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join()).toContain('messages_by_conversation_parent');
    db.close();
  });

  it('migration 4 adds user presets with unique names', () => {
    const file = tempDb();
    openDatabase(file, { migrations: MIGRATIONS.slice(0, 3) }).db.close();
    const store = HistoryStore.open(file);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const p = store.savePreset({ name: 'Alt text only', system: 'Write alt text.', params: { temperature: 0.1 } });
    expect(p.id).toMatch(/^user-/);
    expect(store.listPresets()).toEqual([{ ...p, builtin: false }]);
    expect(() => store.savePreset({ name: 'Alt text only', system: 'x', params: {} })).toThrow(/already exists/);
    store.savePreset({ id: p.id, name: 'Alt text', system: 'Write alt text.', params: {} });
    expect(store.listPresets().map((x) => x.name)).toEqual(['Alt text']);
    expect(store.deletePreset(p.id)).toBe(true);
    expect(store.listPresets()).toEqual([]);
    store.close();
  });

  it('migration 6 adds catalog jobs and items; their photos count as referenced attachments', () => {
    const file = tempDb();
    openDatabase(file, { migrations: MIGRATIONS.slice(0, 5) }).db.close();
    const store = HistoryStore.open(file);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    store.db.prepare("INSERT INTO catalog_jobs (id, template, state, created_at, updated_at) VALUES ('j1', '{}', 'running', 1, 1)").run();
    const id = 'a'.repeat(64);
    store.db.prepare("INSERT INTO catalog_items (job_id, position, file_name, attachment_id, status, updated_at) VALUES ('j1', 0, 'x.jpg', ?, 'pending', 1)").run(id);
    expect(() => store.db.prepare("INSERT INTO catalog_items (job_id, position, file_name, attachment_id, status, updated_at) VALUES ('j1', 1, 'y.jpg', ?, 'pending', 1)").run(id)).toThrow(/UNIQUE/);
    expect(store.referencedAttachmentIds().has(id)).toBe(true);
    store.close();
  });

  it('migration 5 adds an engine choice per conversation (old ones follow the default) and the engine of each answer', () => {
    const file = tempDb();
    const v4 = openDatabase(file, { migrations: MIGRATIONS.slice(0, 4) }).db;
    v4.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('c1', 'Old chat', 1, 1)").run();
    v4.prepare("INSERT INTO messages (conversation_id, role, text, status, created_at, updated_at) VALUES ('c1', 'assistant', 'an old answer', 'complete', 1, 1)").run();
    v4.close();

    const store = HistoryStore.open(file);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.summary('c1').engineId).toBeNull();
    expect(store.getConversation('c1').messages.map((m) => [m.text, m.engine])).toEqual([['an old answer', null]]);
    expect(store.setEngine('c1', 'rabc123').engineId).toBe('rabc123');
    expect(store.listConversations()[0]!.engineId).toBe('rabc123');
    const by = { id: 'rabc123', kind: 'remote' as const, name: 'Fireworks', model: 'firellava-13b' };
    const answer = store.addMessage({ conversationId: 'c1', parentId: null, role: 'assistant', text: 'new', status: 'complete', engine: by });
    expect(store.message(answer.id).engine).toEqual(by);
    expect(store.setEngine('c1', null).engineId).toBeNull();
    expect(() => store.setEngine('nope', null)).toThrow(/does not exist/);
    store.close();
  });

  it('migration 7 keeps the titles of older chats (an empty one is still named by its first answer) and finds their first image', () => {
    const file = tempDb();
    const v6 = openDatabase(file, { migrations: MIGRATIONS.slice(0, 6) }).db;
    v6.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('named', 'Image', 1, 1), ('empty', '', 1, 1)").run();
    v6.prepare("INSERT INTO messages (id, conversation_id, role, text, status, created_at, updated_at) VALUES (1, 'named', 'user', '', 'complete', 1, 1), (2, 'named', 'user', '', 'complete', 1, 1)").run();
    for (const [message, position, n] of [[2, 0, 3], [1, 1, 2], [1, 0, 1]] as const) {
      v6.prepare("INSERT OR IGNORE INTO attachments (id, mime_type, byte_length, width, height) VALUES (?, 'image/png', 1, 1, 1)").run(att(n).id);
      v6.prepare('INSERT INTO message_attachments (message_id, position, attachment_id) VALUES (?, ?, ?)').run(message, position, att(n).id);
    }
    v6.close();
    const store = HistoryStore.open(file);
    expect(store.autoTitle('named', 'A blue mug', true)).toBe(false);
    expect(store.autoTitle('empty', 'A blue mug', true)).toBe(true);
    expect(store.autoTitle('empty', 'Another title', true)).toBe(false); // the first answer's title stays
    expect(store.listConversations().map((c) => [c.id, c.title, c.imageId]).sort()).toEqual([['empty', 'A blue mug', null], ['named', 'Image', att(1).id]]);
    // A new chat's first image becomes its thumbnail; later ones do not replace it.
    const q = store.addMessage({ conversationId: 'empty', parentId: null, role: 'user', text: 'hi', status: 'complete' });
    expect(store.summary('empty').imageId).toBeNull();
    store.addMessage({ conversationId: 'empty', parentId: q.id, role: 'user', text: '', status: 'complete', attachments: [att(4), att(5)] });
    store.addMessage({ conversationId: 'empty', parentId: q.id, role: 'user', text: '', status: 'complete', attachments: [att(6)] });
    expect(store.summary('empty').imageId).toBe(att(4).id);
    store.close();
  });

  it('migration 8 takes an answer left streaming out of the index until it ends, and keeps the index exact', () => {
    const file = tempDb();
    const v7 = openDatabase(file, { migrations: MIGRATIONS.slice(0, 7) }).db;
    v7.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('c', 'Boots', 1, 1)").run();
    v7.prepare("INSERT INTO messages (id, conversation_id, role, text, status, created_at, updated_at) VALUES (1, 'c', 'user', 'boots please', 'complete', 1, 1), (2, 'c', 'assistant', 'brown leather', 'streaming', 1, 1)").run();
    v7.close();
    const store = HistoryStore.open(file);
    const integrity = () => store.db.prepare("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)").run();
    expect(store.search('leather')).toEqual([]);
    expect(store.search('boots').map((h) => h.messageId)).toEqual([1]);
    store.markInterrupted();
    expect(store.search('leather').map((h) => h.messageId)).toEqual([2]);
    expect(integrity).not.toThrow();
    store.close();
  });

  it('migration 9 keeps a default preset for a version-8 history; deleting that preset clears it, deleting another does not', () => {
    const file = tempDb();
    const v8 = openDatabase(file, { migrations: MIGRATIONS.slice(0, 8) }).db;
    v8.prepare("INSERT INTO presets (id, name, system, params, created_at) VALUES ('user-a', 'Alt', 'Write alt text.', '{}', 1), ('user-b', 'Bullets', 'Bullets.', '{}', 1)").run();
    v8.close();
    const store = HistoryStore.open(file);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(getSetting(store.db, 'default_preset')).toBeNull();
    setSetting(store.db, 'default_preset', 'user-a');
    store.savePreset({ id: 'user-a', name: 'Alt text', system: 'Write alt text.', params: {} });
    store.deletePreset('user-b');
    expect(getSetting(store.db, 'default_preset')).toBe('user-a');
    store.deletePreset('user-a');
    expect(getSetting(store.db, 'default_preset')).toBeNull();
    store.close();
  });

  it('refuses a database from a newer version with a clear message and leaves it unchanged', () => {
    const file = tempDb();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const before = readFileSync(file);
    let error: AppErrorException | undefined;
    try {
      HistoryStore.open(file);
    } catch (err) {
      error = err as AppErrorException;
    }
    expect(error?.error.message).toContain(`written by a newer version of FireLLaVA (schema ${SCHEMA_VERSION + 1}; this version knows up to ${SCHEMA_VERSION})`);
    expect(error?.error.message).toContain('It was not changed.');
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('sets a file that is not a database aside unchanged, says where, and starts a new history', () => {
    const file = tempDb();
    const text = 'this is not sqlite at all, just text'.repeat(100);
    writeFileSync(file, text);
    const store = HistoryStore.open(file);
    expect(store.recovery).toMatchObject({ readable: false, reason: expect.stringMatching(/not a database/) });
    expect(readFileSync(store.recovery!.asidePath, 'utf8')).toBe(text);
    expect(existsSync(file)).toBe(true);
    store.close();
  });
});

describe('history store', () => {
  it('lists conversations newest first, hides trashed ones, and restores them (undo)', () => {
    const store = HistoryStore.open(tempDb());
    let t = 1000;
    store.now = () => t++;
    const a = store.createConversation('A');
    const b = store.createConversation('B');
    store.addMessage({ conversationId: a.id, parentId: null, role: 'user', text: 'hi', status: 'complete' });
    expect(store.listConversations().map((c) => c.title)).toEqual(['A', 'B']);
    store.trash(a.id);
    expect(store.listConversations().map((c) => c.title)).toEqual(['B']);
    expect(store.listConversations({ trash: true }).map((c) => c.title)).toEqual(['A']);
    store.restore(a.id);
    expect(store.listConversations().map((c) => c.title)).toEqual(['A', 'B']);
    expect(store.getConversation(a.id).messages.map((m) => m.text)).toEqual(['hi']);
    store.trash(b.id);
    expect(store.emptyTrash()).toHaveLength(1);
    expect(() => store.getConversation(b.id)).toThrow(/does not exist/);
    expect(store.rename(a.id, '  Renamed  ').title).toBe('Renamed');
    expect(() => store.rename(a.id, '   ')).toThrow(/cannot be empty/);
    store.close();
  });

  it('models regenerations and edits as sibling versions and switches between them', () => {
    const store = HistoryStore.open(tempDb());
    const c = store.createConversation('Branches');
    const q1 = store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'question v1', status: 'complete', attachments: [att(1)] });
    const a1 = store.addMessage({ conversationId: c.id, parentId: q1.id, role: 'assistant', text: 'answer one', status: 'complete' });
    const a2 = store.addMessage({ conversationId: c.id, parentId: q1.id, role: 'assistant', text: 'answer two', status: 'complete' });
    let view = store.getConversation(c.id);
    expect(view.messages.map((m) => m.text)).toEqual(['question v1', 'answer two']);
    expect(view.messages[1]!.versions).toEqual({ index: 1, ids: [a1.id, a2.id] });
    expect(view.messages[0]!.attachments).toEqual([att(1)]);

    const q2 = store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'question v2', status: 'complete' });
    store.addMessage({ conversationId: c.id, parentId: q2.id, role: 'assistant', text: 'answer to v2', status: 'complete' });
    view = store.getConversation(c.id);
    expect(view.messages.map((m) => m.text)).toEqual(['question v2', 'answer to v2']);
    expect(view.messages[0]!.versions).toEqual({ index: 1, ids: [q1.id, q2.id] });

    // Back to the first question: its newest answer comes with it.
    store.switchVersion(q1.id);
    expect(store.getConversation(c.id).messages.map((m) => m.text)).toEqual(['question v1', 'answer two']);
    store.switchVersion(a1.id);
    expect(store.getConversation(c.id).messages.map((m) => m.text)).toEqual(['question v1', 'answer one']);
    expect(store.pathTo(a1.id).map((m) => m.id)).toEqual([q1.id, a1.id]);
    store.close();
  });

  it('refuses a parent from another conversation and messages in a trashed conversation', () => {
    const store = HistoryStore.open(tempDb());
    const a = store.createConversation('A');
    const b = store.createConversation('B');
    const m = store.addMessage({ conversationId: a.id, parentId: null, role: 'user', text: 'x', status: 'complete' });
    expect(() => store.addMessage({ conversationId: b.id, parentId: m.id, role: 'assistant', text: '', status: 'streaming' })).toThrow(/does not exist/);
    store.trash(b.id);
    expect(() => store.addMessage({ conversationId: b.id, parentId: null, role: 'user', text: 'x', status: 'complete' })).toThrow(/trash/);
    expect(store.getConversation(b.id).messages).toEqual([]);
    store.close();
  });

  it('keeps full-text search in sync with inserts, streamed updates and deletes', () => {
    const store = HistoryStore.open(tempDb());
    const c = store.createConversation('Shoes');
    const q = store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'Describe these shoes', status: 'complete' });
    const a = store.addMessage({ conversationId: c.id, parentId: q.id, role: 'assistant', text: '', status: 'streaming' });
    expect(store.search('leather')).toEqual([]);
    // A streaming answer is indexed once, when it ends (not at every flush); its question is found meanwhile.
    store.updateText(a.id, 'Brown leather boots with');
    expect(store.search('leather')).toEqual([]);
    expect(store.search('shoes').map((h) => h.messageId)).toEqual([q.id]);
    store.finishMessage(a.id, { status: 'complete', text: 'Suede boots, waterproof.' });
    expect(store.search('leather')).toEqual([]);
    // The index matches the table exactly (FTS5 compares every entry with its row).
    expect(() => store.db.prepare("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
    const hit = store.search('waterpr')[0]!; // prefix of the last word
    expect(hit).toMatchObject({ conversationId: c.id, conversationTitle: 'Shoes', messageId: a.id, role: 'assistant' });
    expect(hit.snippet).toContain('\u0002waterproof\u0003');
    // Quotes and operators are words, not syntax errors.
    expect(store.search('"boots" OR (NEAR')).toEqual([]);
    expect(store.search('*** ---')).toEqual([]);
    store.trash(c.id);
    expect(store.search('suede')).toEqual([]);
    store.restore(c.id);
    expect(store.search('suede')).toHaveLength(1);
    store.trash(c.id);
    store.emptyTrash();
    expect(store.db.prepare("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH 'suede'").get()).toEqual({ n: 0 });
    store.close();
  });

  it('marks answers left streaming as interrupted, keeping their text', () => {
    const file = tempDb();
    const store = HistoryStore.open(file);
    const c = store.createConversation('Crash');
    const q = store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'q', status: 'complete' });
    const a = store.addMessage({ conversationId: c.id, parentId: q.id, role: 'assistant', text: '', status: 'streaming' });
    store.updateText(a.id, 'half an ans');
    store.close();
    const again = HistoryStore.open(file);
    expect(again.search('half')).toEqual([]);
    expect(again.markInterrupted()).toBe(1);
    expect(again.message(a.id)).toMatchObject({ status: 'interrupted', text: 'half an ans' });
    expect(again.search('half').map((h) => h.messageId)).toEqual([a.id]);
    expect(again.markInterrupted()).toBe(0);
    again.close();
  });

  it('keeps attachment metadata only while a message refers to it', () => {
    const store = HistoryStore.open(tempDb());
    const c = store.createConversation('Pics');
    store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: '', status: 'complete', attachments: [att(1), att(2)] });
    expect([...store.referencedAttachmentIds()].sort()).toEqual([att(1).id, att(2).id]);
    store.trash(c.id);
    expect(store.referencedAttachmentIds().size).toBe(2); // undo must still find the images
    store.emptyTrash();
    expect(store.referencedAttachmentIds().size).toBe(0);
    expect(store.db.prepare('SELECT count(*) AS n FROM attachments').get()).toEqual({ n: 0 });
    store.close();
  });

  it('lists search hits newest first', () => {
    const store = HistoryStore.open(tempDb());
    const ids = ['first', 'second', 'third'].map((t) => {
      const c = store.createConversation(t);
      return store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: `the ${t} teapot`, status: 'complete' }).id;
    });
    expect(store.search('teapot').map((h) => h.messageId)).toEqual([...ids].reverse());
    expect(store.search('teapot', 2).map((h) => h.messageId)).toEqual([ids[2], ids[1]]);
    store.close();
  });

  it('builds safe FTS queries from free text', () => {
    expect(toFtsQuery('red  "shoe')).toBe('"red" "shoe"*');
    expect(toFtsQuery('!!!')).toBeNull();
  });
});
