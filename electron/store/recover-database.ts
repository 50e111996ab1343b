// A damaged history file is never written into: it is moved aside untouched, and what can still be
// read is copied, table by table and row by row, into a new database with the current schema.
// (better-sqlite3 has no `.recover`; reading around bad pages by rowid gets most of the same rows.)
import { copyFileSync, existsSync, openSync, closeSync, readSync, writeSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface Recovery {
  /** Why the file was set aside (quick_check's first line or SQLite's error). */
  reason: string;
  /** The damaged file, byte-identical, with its -wal/-shm beside it under the same name. */
  asidePath: string;
  conversations: number;
  messages: number;
  /** False when nothing could be read (the new history starts empty). */
  readable: boolean;
}

/** SQLite's verdict on a file's structure: null when sound. Throws for errors that are not damage (locked, unreadable). */
export function damageOf(db: Database.Database): string | null {
  try {
    const rows = db.pragma('quick_check(5)') as { quick_check: string }[];
    const first = rows[0]?.quick_check ?? 'ok';
    return first === 'ok' ? null : rows.map((r) => r.quick_check).join('; ').slice(0, 300);
  } catch (err) {
    if (isDamage(err)) return (err as Error).message;
    throw err;
  }
}

export function isDamage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

const SIDE_FILES = ['-wal', '-shm'] as const;

/** Renames the file (and its -wal/-shm) to `<file>.damaged-<time>`; never replaces an existing file. */
export function moveAside(file: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let aside = `${file}.damaged-${stamp}`;
  for (let n = 2; existsSync(aside); n++) aside = `${file}.damaged-${stamp}-${n}`;
  renameSync(file, aside);
  for (const side of SIDE_FILES) if (existsSync(file + side)) renameSync(file + side, aside + side);
  return aside;
}

/** Tables copied, parents first; the FTS index is rebuilt by the triggers of the new schema. */
const TABLES = ['conversations', 'messages', 'attachments', 'message_attachments', 'presets', 'catalog_jobs', 'catalog_items'] as const;

/**
 * Copies what is readable from the damaged file at `aside` into `target` (a new database with the
 * current schema). Works on a scratch copy so the file aside is never opened for writing.
 */
export function recoverInto(aside: string, target: Database.Database, scratch: string): Pick<Recovery, 'conversations' | 'messages' | 'readable'> {
  copyFileSync(aside, scratch);
  for (const side of SIDE_FILES) if (existsSync(aside + side)) copyFileSync(aside + side, scratch + side);
  let source: Database.Database | null = null;
  try {
    source = openReadable(scratch);
    if (!source) return { conversations: 0, messages: 0, readable: false };
    target.pragma('foreign_keys = OFF');
    for (const table of TABLES) copyTable(source, target, table);
    repairLinks(target);
    target.pragma('foreign_keys = ON');
    const count = (t: string): number => (target.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { conversations: count('conversations'), messages: count('messages'), readable: true };
  } finally {
    source?.close();
    for (const f of [scratch, ...SIDE_FILES.map((s) => scratch + s)]) rmSync(f, { force: true });
  }
}

/** Opens the scratch copy; with a damaged header, writes a plausible one (page size guessed) and tries again. */
function openReadable(scratch: string): Database.Database | null {
  const tryOpen = (): Database.Database | null => {
    let db: Database.Database | null = null;
    try {
      db = new Database(scratch);
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      return db;
    } catch {
      db?.close();
      return null;
    }
  };
  const opened = tryOpen();
  if (opened) return opened;
  const size = statSync(scratch).size;
  const page1 = Buffer.alloc(101);
  const fd = openSync(scratch, 'r+');
  try {
    readSync(fd, page1, 0, 101, 0);
    // Byte 100 starts page 1's b-tree header (sqlite_schema): 0x0D leaf or 0x05 interior.
    if (page1[100] !== 0x0d && page1[100] !== 0x05) return null;
    const wal = existsSync(`${scratch}-wal`) && statSync(`${scratch}-wal`).size > 0;
    for (const pageSize of [4096, 1024, 2048, 8192, 16384, 32768, 65536, 512]) {
      if (size % pageSize !== 0) continue;
      writeSync(fd, header(pageSize, wal), 0, 100, 0);
      const db = tryOpen();
      if (db) return db;
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

function header(pageSize: number, wal: boolean): Buffer {
  const h = Buffer.alloc(100);
  h.write('SQLite format 3\0', 0, 'latin1');
  h.writeUInt16BE(pageSize === 65536 ? 1 : pageSize, 16);
  h[18] = h[19] = wal ? 2 : 1;
  h[21] = 64;
  h[22] = 32;
  h[23] = 32;
  h.writeUInt32BE(1, 24); // change counter ≠ version-valid-for (0): SQLite takes the size from the file
  h.writeUInt32BE(4, 44); // schema format
  h.writeUInt32BE(1, 56); // UTF-8
  return h;
}

function columnsOf(db: Database.Database, table: string): string[] {
  try {
    return (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map((c) => c.name);
  } catch {
    return [];
  }
}

/** Reads rows in rowid order; past a bad page, probes further and further ahead, then reads from the end backwards. */
function copyTable(source: Database.Database, target: Database.Database, table: string): void {
  const wanted = new Set(columnsOf(target, table));
  const cols = columnsOf(source, table).filter((c) => wanted.has(c));
  if (cols.length === 0) return;
  const list = cols.map((c) => `"${c}"`).join(', ');
  const insert = target.prepare(`INSERT OR IGNORE INTO ${table} (${list}) VALUES (${cols.map(() => '?').join(', ')})`);
  const read = (sql: string, from: number): { last: number | null; failed: boolean } => {
    let last: number | null = null;
    try {
      for (const row of source.prepare(sql).raw().iterate(from) as Iterable<unknown[]>) {
        last = row[0] as number;
        try {
          insert.run(row.slice(1));
        } catch {
          // a row whose values break the new schema's checks is skipped, not the table
        }
      }
      return { last, failed: false };
    } catch {
      return { last, failed: true };
    }
  };
  const forward = `SELECT rowid, ${list} FROM ${table} WHERE rowid >= ? ORDER BY rowid`;
  const backward = `SELECT rowid, ${list} FROM ${table} WHERE rowid <= ? ORDER BY rowid DESC`;
  target.transaction(() => {
    let top = Number.MAX_SAFE_INTEGER;
    const tail = read(backward, top);
    if (!tail.failed) return; // read whole from the end: nothing more to find
    if (tail.last !== null) top = tail.last;
    let at = -Number.MAX_SAFE_INTEGER;
    let step = 1;
    let r = read(forward, at);
    while (r.failed) {
      if (r.last !== null) {
        at = r.last + 1;
        step = 1;
      } else {
        if (at === -Number.MAX_SAFE_INTEGER) at = 0;
        at += step;
        step *= 2;
      }
      if (at >= top || step > 1 << 40) break;
      r = read(forward, at);
    }
  })();
}

/** Rows whose parent was lost: messages move under the previous readable message, links and items go. */
function repairLinks(db: Database.Database): void {
  db.transaction(() => {
    db.exec(`
      INSERT INTO conversations (id, title, created_at, updated_at)
        SELECT conversation_id, 'Recovered chat', min(created_at), max(updated_at) FROM messages
        WHERE conversation_id NOT IN (SELECT id FROM conversations) GROUP BY conversation_id;
      UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages p WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)
        WHERE parent_id IS NOT NULL AND parent_id NOT IN (SELECT id FROM messages);
      UPDATE conversations SET active_leaf_id = NULL WHERE active_leaf_id NOT IN (SELECT id FROM messages);
      DELETE FROM message_attachments WHERE message_id NOT IN (SELECT id FROM messages) OR attachment_id NOT IN (SELECT id FROM attachments);
      DELETE FROM catalog_items WHERE job_id NOT IN (SELECT id FROM catalog_jobs);
    `);
    // The list's thumbnail (migration 7) must name an image that is still linked.
    if (columnsOf(db, 'conversations').includes('image_id')) {
      db.exec(`UPDATE conversations SET image_id = (
        SELECT ma.attachment_id FROM messages m JOIN message_attachments ma ON ma.message_id = m.id
        WHERE m.conversation_id = conversations.id ORDER BY m.id, ma.position LIMIT 1)`);
    }
  })();
}
