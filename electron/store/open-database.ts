// Opens the history database: WAL, foreign keys, the schema migrated to the current version.
// A file from a newer app is refused untouched; an older one is copied aside before migrating; a
// damaged one is moved aside and what is readable is recovered into a new file (recover-database).
import { copyFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AppErrorException } from '../shared/errors';
import { MIGRATIONS, type Migration } from './migrations';
import { ensurePrivateDir, makePrivate, touchPrivateFile } from './private-files';
import { damageOf, isDamage, moveAside, recoverInto, type Recovery } from './recover-database';

/** How long a write waits for another connection's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  /** Defaults to every migration; tests pass a prefix to build old versions. */
  migrations?: readonly Migration[];
  /** For tests and benchmarks only: skip the pre-migration copy. */
  backup?: boolean;
}

export interface OpenedDatabase {
  db: Database.Database;
  /** Path of the copy made before migrating, or null when nothing was migrated. */
  backupPath: string | null;
  /** Version found on disk before opening (0 for a new file). */
  fromVersion: number;
  /** Set when the file was damaged: where it was moved and what was recovered into the new one. */
  recovery: Recovery | null;
}

const cannotOpen = (file: string, err: unknown): AppErrorException =>
  new AppErrorException({ code: 'INTERNAL', message: `Cannot open the chat history at ${file}: ${(err as Error).message}` });

/** Opens the file and checks its structure; a damaged file is closed again and its reason returned. */
function openChecked(file: string): { db: Database.Database; damage: null } | { db: null; damage: string } {
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    if (isDamage(err)) return { db: null, damage: (err as Error).message };
    throw cannotOpen(file, err);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const damage = damageOf(db);
    if (damage === null) return { db, damage: null };
    db.close();
    return { db: null, damage };
  } catch (err) {
    db.close();
    throw cannotOpen(file, err);
  }
}

export function openDatabase(file: string, options: OpenOptions = {}): OpenedDatabase {
  const migrations = options.migrations ?? MIGRATIONS;
  const target = migrations.length;
  const inMemory = file === ':memory:';
  if (!inMemory) ensurePrivateDir(path.dirname(file));
  const existed = !inMemory && existsSync(file) && statSync(file).size > 0;

  let db: Database.Database;
  let recovery: Recovery | null = null;
  if (inMemory) db = new Database(file);
  else {
    // Created 0600 before SQLite opens it: its -wal and -shm take the same mode.
    if (!existed) touchPrivateFile(file);
    const checked = openChecked(file);
    if (checked.db) db = checked.db;
    else {
      let asidePath: string;
      try {
        asidePath = moveAside(file);
      } catch (err) {
        throw new AppErrorException({
          code: 'STORAGE_FAILED',
          message: `The chat history at ${file} is damaged (${checked.damage}) and could not be moved aside to start a new one: ${(err as Error).message}. Move it away yourself, then start again.`,
        });
      }
      const fresh = recoverFresh(file, asidePath, migrations);
      db = fresh.db;
      recovery = { reason: checked.damage, asidePath, ...fresh.counts };
    }
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const fromVersion = db.pragma('user_version', { simple: true }) as number;
    if (fromVersion > target) {
      throw new AppErrorException({
        code: 'INTERNAL',
        message: `The chat history at ${file} was written by a newer version of FireLLaVA (schema ${fromVersion}; this version knows up to ${target}). Update the app, or move the file away to start a new history. It was not changed.`,
      });
    }
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');

    let backupPath: string | null = null;
    if (fromVersion < target && existed && options.backup !== false) {
      // Checkpoint first so the single-file copy holds every committed transaction.
      db.pragma('wal_checkpoint(TRUNCATE)');
      backupPath = `${file}.v${fromVersion}-${new Date().toISOString().replace(/[:.]/g, '-')}.bak`;
      copyFileSync(file, backupPath);
      makePrivate(backupPath);
    }
    migrate(db, migrations.slice(fromVersion));
    if (!inMemory) for (const f of [file, `${file}-wal`, `${file}-shm`]) makePrivate(f);
    return { db, backupPath, fromVersion, recovery };
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Database.Database, steps: readonly Migration[]): void {
  for (const migration of steps) {
    // One transaction per step: a failure leaves the database at the previous version.
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}

/** A new history at `file` (current schema) holding what could be read from the damaged file aside. */
function recoverFresh(file: string, asidePath: string, migrations: readonly Migration[]): { db: Database.Database; counts: Pick<Recovery, 'conversations' | 'messages' | 'readable'> } {
  const building = `${file}.recovering`;
  for (const f of [building, `${building}-journal`]) rmSync(f, { force: true });
  touchPrivateFile(building);
  const fresh = new Database(building);
  let counts = { conversations: 0, messages: 0, readable: false };
  try {
    migrate(fresh, migrations);
    counts = recoverInto(asidePath, fresh, `${file}.scratch`);
  } catch (err) {
    // Nothing (more) readable: the new history keeps what was copied; the damaged file stays aside.
    console.error(`firellava: recovery from ${asidePath} stopped: ${(err as Error).message}`);
  } finally {
    fresh.close();
  }
  renameSync(building, file);
  return { db: new Database(file), counts };
}
