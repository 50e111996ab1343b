// Schema history. Each entry moves the database from version index to index+1 and never changes
// once released: a new need is a new migration. PRAGMA user_version holds the applied count.
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  up(db: Database.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'conversations, messages with parent links (branches), attachment metadata',
    up(db) {
      db.exec(`
        CREATE TABLE conversations (
          id TEXT PRIMARY KEY,
          title TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          deleted_at INTEGER,
          system TEXT NOT NULL DEFAULT '',
          params TEXT NOT NULL DEFAULT '{}',
          active_leaf_id INTEGER
        );
        CREATE INDEX conversations_by_recent ON conversations(deleted_at, updated_at DESC);

        CREATE TABLE messages (
          id INTEGER PRIMARY KEY,
          conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
          parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
          role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
          text TEXT NOT NULL DEFAULT '',
          status TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'interrupted', 'error')),
          error TEXT,
          stats TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
        CREATE INDEX messages_by_parent ON messages(parent_id);
        CREATE INDEX messages_by_status ON messages(status) WHERE status = 'streaming';

        CREATE TABLE attachments (
          id TEXT PRIMARY KEY CHECK (length(id) = 64),
          mime_type TEXT NOT NULL,
          byte_length INTEGER NOT NULL,
          width INTEGER NOT NULL,
          height INTEGER NOT NULL
        );
        CREATE TABLE message_attachments (
          message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
          position INTEGER NOT NULL,
          attachment_id TEXT NOT NULL REFERENCES attachments(id),
          name TEXT NOT NULL DEFAULT '',
          PRIMARY KEY (message_id, position)
        );
        CREATE INDEX message_attachments_by_attachment ON message_attachments(attachment_id);
      `);
    },
  },
  {
    version: 2,
    description: 'full-text search over message text (FTS5, kept in sync by triggers)',
    up(db) {
      db.exec(`
        CREATE VIRTUAL TABLE messages_fts USING fts5(
          text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
          INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
          INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
      `);
    },
  },
  {
    version: 3,
    description: 'index siblings by (conversation, parent): root messages of one chat without scanning every chat',
    up(db) {
      db.exec('CREATE INDEX messages_by_conversation_parent ON messages(conversation_id, parent_id)');
    },
  },
  {
    version: 4,
    description: 'user-defined presets (system prompt and generation settings)',
    up(db) {
      db.exec(`
        CREATE TABLE presets (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          system TEXT NOT NULL DEFAULT '',
          params TEXT NOT NULL DEFAULT '{}',
          created_at INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 5,
    description: 'engine chosen per conversation (null: the global default) and the engine that wrote each answer',
    up(db) {
      db.exec(`
        ALTER TABLE conversations ADD COLUMN engine_id TEXT;
        ALTER TABLE messages ADD COLUMN engine TEXT;
      `);
    },
  },
  {
    version: 6,
    description: 'catalog jobs (a template over many photos) and their items, one row per photo',
    up(db) {
      db.exec(`
        CREATE TABLE catalog_jobs (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL DEFAULT '',
          template TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'done', 'cancelled')),
          source_key TEXT,
          concurrency INTEGER NOT NULL DEFAULT 1,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX catalog_jobs_by_source ON catalog_jobs(source_key);

        CREATE TABLE catalog_items (
          id INTEGER PRIMARY KEY,
          job_id TEXT NOT NULL REFERENCES catalog_jobs(id) ON DELETE CASCADE,
          position INTEGER NOT NULL,
          file_name TEXT NOT NULL,
          attachment_id TEXT CHECK (attachment_id IS NULL OR length(attachment_id) = 64),
          notes TEXT NOT NULL DEFAULT '{}',
          status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'error')),
          fields TEXT NOT NULL DEFAULT '{}',
          flags TEXT NOT NULL DEFAULT '[]',
          error TEXT,
          approved INTEGER NOT NULL DEFAULT 0,
          attempts INTEGER NOT NULL DEFAULT 0,
          ms INTEGER,
          updated_at INTEGER NOT NULL,
          UNIQUE (job_id, attachment_id)
        );
        CREATE INDEX catalog_items_by_job ON catalog_items(job_id, position);
        CREATE INDEX catalog_items_by_attachment ON catalog_items(attachment_id);
      `);
    },
  },
  {
    version: 7,
    description: 'whether a conversation title is provisional (the first answer names the chat); its first image, for the list',
    up(db) {
      // Titles written before this version stay as they are, except empty ones. The first image
      // is kept on the row: looking it up per conversation made listing 10,000 chats 5x slower.
      db.exec(`
        ALTER TABLE conversations ADD COLUMN title_auto INTEGER NOT NULL DEFAULT 0;
        UPDATE conversations SET title_auto = 1 WHERE title = '';
        ALTER TABLE conversations ADD COLUMN image_id TEXT;
        UPDATE conversations SET image_id = (
          SELECT ma.attachment_id FROM messages m JOIN message_attachments ma ON ma.message_id = m.id
          WHERE m.conversation_id = conversations.id ORDER BY m.id, ma.position LIMIT 1
        );
      `);
    },
  },
  {
    version: 8,
    description: 'a streaming answer is indexed for search once, when it ends, instead of at every flush',
    up(db) {
      // Re-indexing the whole partial text every 250 ms cost 14x the write itself on a 200k-message
      // history (docs/BENCHMARKS.md). A streaming row is out of the index; leaving "streaming"
      // (finished, stopped, interrupted at the next start) puts it in. Never 'rebuild' the index:
      // that would add streaming rows back.
      db.exec(`
        DROP TRIGGER messages_fts_insert;
        DROP TRIGGER messages_fts_delete;
        DROP TRIGGER messages_fts_update;
        INSERT INTO messages_fts(messages_fts, rowid, text) SELECT 'delete', id, text FROM messages WHERE status = 'streaming';
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.status != 'streaming' BEGIN
          INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.status != 'streaming' BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, status ON messages
        WHEN old.text IS NOT new.text OR (old.status = 'streaming') != (new.status = 'streaming') BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, text) SELECT 'delete', old.id, old.text WHERE old.status != 'streaming';
          INSERT INTO messages_fts(rowid, text) SELECT new.id, new.text WHERE new.status != 'streaming';
        END;
      `);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
