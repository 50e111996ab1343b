// Opens the history database: WAL, foreign keys, the schema migrated to the current version.
// A file from a newer app is refused untouched; an older one is copied aside before migrating.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AppErrorException } from '../shared/errors';
import { MIGRATIONS, type Migration } from './migrations';

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
}

export function openDatabase(file: string, options: OpenOptions = {}): OpenedDatabase {
  const migrations = options.migrations ?? MIGRATIONS;
  const target = migrations.length;
  const inMemory = file === ':memory:';
  if (!inMemory) mkdirSync(path.dirname(file), { recursive: true });
  const existed = !inMemory && existsSync(file) && statSync(file).size > 0;

  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    throw new AppErrorException({ code: 'INTERNAL', message: `Cannot open the chat history at ${file}: ${(err as Error).message}` });
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
    }
    for (const migration of migrations.slice(fromVersion)) {
      // One transaction per step: a failure leaves the database at the previous version.
      db.transaction(() => {
        migration.up(db);
        db.pragma(`user_version = ${migration.version}`);
      })();
    }
    return { db, backupPath, fromVersion };
  } catch (err) {
    db.close();
    throw err;
  }
}
