// Everything under the data folder is private to its owner: chats, images and keys must not be
// readable by other users of a shared machine. Folders 0700, files 0600, on create and at start.
// POSIX modes only: Windows keeps its per-user profile ACLs, so this is a no-op there.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
const POSIX = process.platform !== 'win32';

/** Creates the folder (and missing parents) 0700 and tightens it if it already existed. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (POSIX) chmodSync(dir, PRIVATE_DIR_MODE);
}

export async function ensurePrivateDirAsync(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (POSIX) await fs.chmod(dir, PRIVATE_DIR_MODE);
}

/** Creates an empty file 0600 if missing (so SQLite's -wal and -shm, which copy its mode, are 0600 too). */
export function touchPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  makePrivate(file);
}

/**
 * Tightens one path. Links are left alone: a symlink may point at the user's own files, and a
 * file with several hard links (a model imported by linking) is shared with a folder outside.
 */
export function makePrivate(file: string, stat: Stats | null = statOrNull(file)): boolean {
  if (!POSIX || !stat || stat.isSymbolicLink()) return false;
  const mode = stat.mode & 0o777;
  if (stat.isDirectory() && mode !== PRIVATE_DIR_MODE) {
    chmodSync(file, PRIVATE_DIR_MODE);
    return true;
  }
  if (stat.isFile() && stat.nlink === 1 && (mode & ~PRIVATE_FILE_MODE) !== 0) {
    chmodSync(file, PRIVATE_FILE_MODE);
    return true;
  }
  return false;
}

/**
 * At start: fixes a tree written by an older version (or copied in with 0755/0644). Below the root,
 * only entries `owned` names are touched: a data folder pointed at a shared place (say, the home
 * folder) must not lose other programs' modes. Returns how many paths changed.
 */
export function makeTreePrivate(root: string, owned: (name: string) => boolean = () => true): number {
  if (!POSIX) return 0;
  let changed = 0;
  const visit = (p: string, depth: number): void => {
    const stat = statOrNull(p);
    if (!stat || stat.isSymbolicLink()) return;
    try {
      if (makePrivate(p, stat)) changed++;
    } catch {
      return; // not ours (another owner) or gone meanwhile: nothing to tighten
    }
    if (stat.isDirectory() && depth < 8) {
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const name of names) if (depth > 0 || owned(name)) visit(path.join(p, name), depth + 1);
    }
  };
  visit(root, 0);
  return changed;
}

/** Atomic and private: a crash mid-write leaves the previous file, and no one else can read the new one. */
export async function writePrivateFile(target: string, data: string | Uint8Array, options: { tempDir?: string } = {}): Promise<void> {
  const dir = options.tempDir ?? path.dirname(target);
  await ensurePrivateDirAsync(path.dirname(target));
  const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temp, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

export function writePrivateFileSync(target: string, data: string | Uint8Array): void {
  ensurePrivateDir(path.dirname(target));
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

function statOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}
