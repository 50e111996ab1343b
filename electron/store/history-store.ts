// Chat history on SQLite: conversations, messages linked to their parent (so regenerations and
// edits are sibling versions, not copies), full-text search and a trash. Synchronous on purpose:
// better-sqlite3 is one writer in one process and each call is a short indexed query.
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { AnsweredBy } from '../shared/contracts/engines';
import type {
  ConversationSettings,
  ConversationSummary,
  ConversationView,
  MessageAttachment,
  MessageStats,
  MessageStatus,
  MessageView,
  Preset,
  SearchHit,
} from '../shared/contracts/conversations';
import { AppErrorException } from '../shared/errors';
import { BUSY_TIMEOUT_MS, openDatabase, type OpenOptions } from './open-database';
import type { Recovery } from './recover-database';
import { snippetsFor } from './search-snippets';

export interface NewMessage {
  conversationId: string;
  parentId: number | null;
  role: 'user' | 'assistant';
  text: string;
  status: MessageStatus;
  attachments?: (Omit<MessageAttachment, 'name'> & { name?: string })[];
  /** The engine that writes this answer. */
  engine?: AnsweredBy | null;
}

interface ConversationRow {
  id: string;
  title: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  system: string;
  params: string;
  active_leaf_id: number | null;
  engine_id: string | null;
  title_auto: number;
  image_id: string | null;
}

interface MessageRow {
  id: number;
  conversation_id: string;
  parent_id: number | null;
  role: 'user' | 'assistant';
  text: string;
  status: MessageStatus;
  error: string | null;
  stats: string | null;
  engine: string | null;
  created_at: number;
  updated_at: number;
}

const notFound = (what: string): AppErrorException => new AppErrorException({ code: 'NOT_FOUND', message: `${what} does not exist (it may have been deleted for good)` });

const summary = (r: ConversationRow): ConversationSummary => ({
  id: r.id,
  title: r.title,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  deletedAt: r.deleted_at,
  engineId: r.engine_id,
  imageId: r.image_id,
});

/** Turns what a person types into an FTS5 query: every word must appear, the last one as a prefix. */
export function toFtsQuery(input: string): string | null {
  const words = input.match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (words.length === 0) return null;
  return words.map((w, i) => `"${w}"${i === words.length - 1 ? '*' : ''}`).join(' ');
}

export class HistoryStore {
  readonly db: Database.Database;
  readonly backupPath: string | null;
  /** Set when the file on disk was damaged and this history was rebuilt from what was readable. */
  readonly recovery: Recovery | null;
  /** Clock injection keeps ordering tests exact. */
  now: () => number = Date.now;

  static open(file: string, options?: OpenOptions): HistoryStore {
    const { db, backupPath, recovery } = openDatabase(file, options);
    return new HistoryStore(db, backupPath, recovery);
  }

  private constructor(db: Database.Database, backupPath: string | null, recovery: Recovery | null) {
    this.db = db;
    this.backupPath = backupPath;
    this.recovery = recovery;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // --- conversations ------------------------------------------------------------------------

  /** Without a title the conversation is named by its first answer (see autoTitle). */
  createConversation(title = '', id: string = randomUUID()): ConversationSummary {
    const t = this.now();
    const clean = title.trim().slice(0, 200);
    this.db.prepare('INSERT INTO conversations (id, title, title_auto, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(id, clean, clean ? 0 : 1, t, t);
    return this.summary(id);
  }

  private row(id: string): ConversationRow {
    const row = this.db.prepare('SELECT * FROM conversations WHERE id = ?').get(id) as ConversationRow | undefined;
    if (!row) throw notFound('This conversation');
    return row;
  }

  summary(id: string): ConversationSummary {
    return summary(this.row(id));
  }

  listConversations(options: { trash?: boolean; limit?: number } = {}): ConversationSummary[] {
    const sql = options.trash
      ? 'SELECT * FROM conversations WHERE deleted_at IS NOT NULL ORDER BY deleted_at DESC LIMIT ?'
      : 'SELECT * FROM conversations WHERE deleted_at IS NULL ORDER BY updated_at DESC, rowid DESC LIMIT ?';
    return (this.db.prepare(sql).all(options.limit ?? 500) as ConversationRow[]).map(summary);
  }

  rename(id: string, title: string): ConversationSummary {
    const clean = title.trim().slice(0, 200);
    if (!clean) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'A title cannot be empty' });
    // A name the user gave is never replaced by a generated one.
    if (this.db.prepare('UPDATE conversations SET title = ?, title_auto = 0 WHERE id = ?').run(clean, id).changes === 0) throw notFound('This conversation');
    return this.summary(id);
  }

  /**
   * Sets a generated title unless the user named the conversation. `final`: this one stays (the
   * first answer's); else it is provisional (the question) until an answer names the chat.
   * Returns whether the title changed.
   */
  autoTitle(id: string, title: string, final: boolean): boolean {
    const clean = title.trim().slice(0, 200);
    if (!clean) return false;
    // Reading first: a named chat never waits for another program's write lock.
    const row = this.db.prepare('SELECT title_auto FROM conversations WHERE id = ?').get(id) as { title_auto: number } | undefined;
    if (row?.title_auto !== 1) return false;
    return this.db.prepare('UPDATE conversations SET title = ?, title_auto = ? WHERE id = ? AND title_auto = 1').run(clean, final ? 0 : 1, id).changes > 0;
  }

  settings(id: string): ConversationSettings {
    const row = this.row(id);
    return { system: row.system, params: JSON.parse(row.params) as ConversationSettings['params'] };
  }

  updateSettings(id: string, patch: Partial<ConversationSettings>): void {
    const current = this.settings(id);
    const next = { system: patch.system ?? current.system, params: { ...current.params, ...(patch.params ?? {}) } };
    this.db.prepare('UPDATE conversations SET system = ?, params = ? WHERE id = ?').run(next.system, JSON.stringify(next.params), id);
  }

  /** null: the conversation follows the global default engine. */
  setEngine(id: string, engineId: string | null): ConversationSummary {
    if (this.db.prepare('UPDATE conversations SET engine_id = ? WHERE id = ?').run(engineId, id).changes === 0) throw notFound('This conversation');
    return this.summary(id);
  }

  trash(id: string): ConversationSummary {
    if (this.db.prepare('UPDATE conversations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(this.now(), id).changes === 0) this.row(id);
    return this.summary(id);
  }

  restore(id: string): ConversationSummary {
    this.row(id);
    this.db.prepare('UPDATE conversations SET deleted_at = NULL WHERE id = ?').run(id);
    return this.summary(id);
  }

  /** Deletes trashed conversations for good (messages follow by cascade); returns their ids. */
  emptyTrash(): string[] {
    return this.db.transaction(() => {
      const ids = (this.db.prepare('SELECT id FROM conversations WHERE deleted_at IS NOT NULL').all() as { id: string }[]).map((r) => r.id);
      this.db.prepare('DELETE FROM conversations WHERE deleted_at IS NOT NULL').run();
      this.db.prepare('DELETE FROM attachments WHERE id NOT IN (SELECT attachment_id FROM message_attachments)').run();
      return ids;
    })();
  }

  /** Attachment ids some message still refers to (trashed conversations included: undo must work). */
  referencedAttachmentIds(): Set<string> {
    // Catalog items hold their photos too.
    const rows = this.db
      .prepare('SELECT attachment_id AS id FROM message_attachments UNION SELECT attachment_id FROM catalog_items WHERE attachment_id IS NOT NULL')
      .all() as { id: string }[];
    return new Set(rows.map((r) => r.id));
  }

  // --- messages -----------------------------------------------------------------------------

  addMessage(m: NewMessage): MessageView {
    return this.db.transaction(() => {
      const conv = this.row(m.conversationId);
      if (conv.deleted_at !== null) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'This conversation is in the trash; restore it first' });
      if (m.parentId !== null) {
        const parent = this.db.prepare('SELECT conversation_id FROM messages WHERE id = ?').get(m.parentId) as { conversation_id: string } | undefined;
        if (!parent || parent.conversation_id !== m.conversationId) throw notFound('The message to answer');
      }
      const t = this.now();
      const id = Number(
        this.db
          .prepare('INSERT INTO messages (conversation_id, parent_id, role, text, status, engine, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(m.conversationId, m.parentId, m.role, m.text, m.status, m.engine ? JSON.stringify(m.engine) : null, t, t).lastInsertRowid,
      );
      const addAtt = this.db.prepare('INSERT OR IGNORE INTO attachments (id, mime_type, byte_length, width, height) VALUES (?, ?, ?, ?, ?)');
      const link = this.db.prepare('INSERT INTO message_attachments (message_id, position, attachment_id, name) VALUES (?, ?, ?, ?)');
      (m.attachments ?? []).forEach((a, i) => {
        addAtt.run(a.id, a.mimeType, a.byteLength, a.width, a.height);
        link.run(id, i, a.id, a.name ?? '');
      });
      // The first image a conversation gets is its thumbnail in the list.
      this.db
        .prepare('UPDATE conversations SET active_leaf_id = ?, updated_at = ?, image_id = coalesce(image_id, ?) WHERE id = ?')
        .run(id, t, m.attachments?.[0]?.id ?? null, m.conversationId);
      return this.message(id);
    })();
  }

  /**
   * Runs fn with a shorter wait for another connection's write lock: the streaming saves retry on
   * their own, so they must not freeze the event loop for the full busy timeout.
   */
  withBusyTimeout<T>(ms: number, fn: () => T): T {
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
    try {
      return fn();
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /** Partial text while streaming; cheap enough to run every few hundred milliseconds. Returns false when the row is gone. */
  updateText(id: number, text: string): boolean {
    return this.db.prepare('UPDATE messages SET text = ?, updated_at = ? WHERE id = ?').run(text, this.now(), id).changes > 0;
  }

  /** NOT_FOUND when the message was deleted for good meanwhile; storage errors pass through. */
  finishMessage(id: number, f: { status: MessageStatus; text: string; error?: string | null; stats?: MessageStats | null }): MessageView {
    const t = this.now();
    this.db
      .prepare('UPDATE messages SET text = ?, status = ?, error = ?, stats = ?, updated_at = ? WHERE id = ?')
      .run(f.text, f.status, f.error ?? null, f.stats ? JSON.stringify(f.stats) : null, t, id);
    return this.message(id);
  }

  /** At start-up: answers that were still streaming when the app died. */
  markInterrupted(): number {
    return this.db.prepare("UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'").run().changes;
  }

  message(id: number): MessageView {
    const row = this.db.prepare('SELECT * FROM messages WHERE id = ?').get(id) as MessageRow | undefined;
    if (!row) throw notFound('This message');
    return this.views([row])[0]!;
  }

  /** The message and its ancestors, root first: what the model sees as the conversation. */
  pathTo(id: number): MessageView[] {
    const rows = this.db
      .prepare(
        `WITH RECURSIVE up(id, depth) AS (SELECT ?, 0 UNION ALL SELECT m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.id WHERE m.parent_id IS NOT NULL)
         SELECT m.* FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC`,
      )
      .all(id) as MessageRow[];
    if (rows.length === 0) throw notFound('This message');
    return this.views(rows);
  }

  /** Every message of a conversation, all branches, oldest first (for export). */
  allMessages(conversationId: string): MessageView[] {
    this.row(conversationId);
    return this.views(this.db.prepare('SELECT * FROM messages WHERE conversation_id = ? ORDER BY id').all(conversationId) as MessageRow[]);
  }

  /** Makes the newest branch below a message the visible one. */
  switchVersion(messageId: number): string {
    const row = this.db.prepare('SELECT conversation_id FROM messages WHERE id = ?').get(messageId) as { conversation_id: string } | undefined;
    if (!row) throw notFound('This message');
    const leaf = this.db
      .prepare(
        `WITH RECURSIVE down(id) AS (SELECT ? UNION ALL SELECT (SELECT max(c.id) FROM messages c WHERE c.parent_id = down.id) FROM down WHERE down.id IS NOT NULL)
         SELECT max(id) AS id FROM down`,
      )
      .get(messageId) as { id: number };
    this.db.prepare('UPDATE conversations SET active_leaf_id = ? WHERE id = ?').run(leaf.id, row.conversation_id);
    return row.conversation_id;
  }

  getConversation(id: string): ConversationView {
    const conv = this.row(id);
    let leaf = conv.active_leaf_id;
    if (leaf === null) leaf = (this.db.prepare('SELECT max(id) AS id FROM messages WHERE conversation_id = ?').get(id) as { id: number | null }).id;
    const messages = leaf === null ? [] : this.pathTo(leaf);
    return {
      conversation: { ...summary(conv), system: conv.system, params: JSON.parse(conv.params) as ConversationSettings['params'] },
      messages,
    };
  }

  private views(rows: MessageRow[]): MessageView[] {
    if (rows.length === 0) return [];
    const ids = JSON.stringify(rows.map((r) => r.id));
    const atts = this.db
      .prepare(
        `SELECT ma.message_id, ma.name, a.id, a.mime_type, a.byte_length, a.width, a.height FROM message_attachments ma
         JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id IN (SELECT value FROM json_each(?)) ORDER BY ma.message_id, ma.position`,
      )
      .all(ids) as { message_id: number; name: string; id: string; mime_type: string; byte_length: number; width: number; height: number }[];
    const siblings = this.db
      .prepare(
        `SELECT s.id, s.parent_id, s.conversation_id FROM messages s WHERE s.id IN (
           SELECT s2.id FROM messages m JOIN messages s2 ON s2.conversation_id = m.conversation_id AND s2.parent_id IS m.parent_id
           WHERE m.id IN (SELECT value FROM json_each(?))) ORDER BY s.id`,
      )
      .all(ids) as { id: number; parent_id: number | null; conversation_id: string }[];
    const byParent = new Map<string, number[]>();
    for (const s of siblings) {
      const key = `${s.conversation_id}/${s.parent_id ?? ''}`;
      const list = byParent.get(key) ?? [];
      list.push(s.id);
      byParent.set(key, list);
    }
    return rows.map((r) => {
      const ids = byParent.get(`${r.conversation_id}/${r.parent_id ?? ''}`) ?? [r.id];
      return {
        id: r.id,
        conversationId: r.conversation_id,
        parentId: r.parent_id,
        role: r.role,
        text: r.text,
        status: r.status,
        error: r.error,
        stats: r.stats ? (JSON.parse(r.stats) as MessageStats) : null,
        engine: r.engine ? (JSON.parse(r.engine) as AnsweredBy) : null,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        attachments: atts
          .filter((a) => a.message_id === r.id)
          .map((a) => ({ id: a.id, name: a.name, mimeType: a.mime_type, byteLength: a.byte_length, width: a.width, height: a.height })),
        versions: { index: Math.max(0, ids.indexOf(r.id)), ids },
      };
    });
  }

  // --- presets ------------------------------------------------------------------------------

  listPresets(): Preset[] {
    const rows = this.db.prepare('SELECT id, name, system, params FROM presets ORDER BY name COLLATE NOCASE').all() as { id: string; name: string; system: string; params: string }[];
    return rows.map((r) => ({ id: r.id, name: r.name, system: r.system, params: JSON.parse(r.params) as Preset['params'], builtin: false }));
  }

  savePreset(p: { id?: string | undefined; name: string; system: string; params: Preset['params'] }): Preset {
    const id = p.id ?? `user-${randomUUID()}`;
    try {
      this.db
        .prepare('INSERT INTO presets (id, name, system, params, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, system = excluded.system, params = excluded.params')
        .run(id, p.name.trim(), p.system, JSON.stringify(p.params), this.now());
    } catch (err) {
      if (/UNIQUE constraint failed: presets.name/.test((err as Error).message)) {
        throw new AppErrorException({ code: 'INVALID_INPUT', message: `A preset named “${p.name.trim()}” already exists; choose another name` });
      }
      throw err;
    }
    return { id, name: p.name.trim(), system: p.system, params: p.params, builtin: false };
  }

  deletePreset(id: string): boolean {
    return this.db.prepare('DELETE FROM presets WHERE id = ?').run(id).changes > 0;
  }

  // --- search -------------------------------------------------------------------------------

  search(query: string, limit = 50): SearchHit[] {
    const fts = toFtsQuery(query);
    if (!fts) return [];
    const rows = this.db
      .prepare(
        // Newest first: FTS5 walks its index by rowid and stops at the limit, where ranking by
        // relevance would score every match. Trashed chats are skipped inside that walk, so a full
        // trash neither hides results nor costs time; snippets are made afterwards, for this page only.
        `SELECT m.id, m.role, m.created_at, c.id AS conversation_id, c.title, m.text
         FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid CROSS JOIN conversations c ON c.id = m.conversation_id
         WHERE messages_fts MATCH ? AND c.deleted_at IS NULL ORDER BY f.rowid DESC LIMIT ?`,
      )
      .all(fts, limit) as { id: number; role: 'user' | 'assistant'; created_at: number; conversation_id: string; title: string; text: string }[];
    const snippets = snippetsFor(this.db, query, rows);
    return rows.map((r) => ({ conversationId: r.conversation_id, conversationTitle: r.title, messageId: r.id, role: r.role, snippet: snippets.get(r.id) ?? '', createdAt: r.created_at }));
  }
}
