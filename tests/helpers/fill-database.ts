// A real SQLITE_FULL needs the answer to grow the file: a fresh history keeps every message in one
// page with kilobytes free, so a short answer never needs a new page. This fills that page.
import type Database from 'better-sqlite3';

/** Adds a message in a conversation of its own that leaves about `left` bytes free in the (only) page of the messages table. */
export function fillMessagesPage(db: Database.Database, left: number): void {
  const leaves = db.prepare("SELECT unused FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'").all() as { unused: number }[];
  if (leaves.length !== 1) throw new Error(`expected the messages in one page, found ${leaves.length}`);
  db.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('filler', 'Filler', 0, 0)").run();
  db.prepare("INSERT INTO messages (conversation_id, role, text, status, created_at, updated_at) VALUES ('filler', 'user', ?, 'complete', 0, 0)").run('f'.repeat(leaves[0]!.unused - left));
}
