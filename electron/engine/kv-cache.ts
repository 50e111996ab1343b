// The per-conversation KV cache on disk (kv-cache/ under the data folder). The binding writes a
// sequence's state (+ a `.meta` sidecar naming its images); we write a header beside it with a
// checksum and the key (settings fingerprint + exact prompt prefix). The binding answers EMPTY on a
// truncated state file and cannot see a flipped KV byte, so nothing reaches it unchecked here.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

const VERSION = 1;
const HEADER = '.json';
const STATE = '.state';
const META = '.state.meta';

export interface StateHeader {
  v: number;
  /** Model file identity + engine settings (settingsFingerprint). */
  settings: string;
  /** sha256 of the prompt the state was saved after; the next prompt must start with it. */
  prefixChars: number;
  prefixSha: string;
  media: string[];
  stateBytes: number;
  stateSha: string;
  /** -1: the binding wrote no sidecar (text-only). */
  metaBytes: number;
  metaSha: string;
}

export interface SettingsFacts {
  model: string;
  mmproj: string | null;
  nCtx: number;
  cacheType: string;
}

const sha = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function fileSha(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function identity(file: string | null): Promise<string> {
  if (!file) return 'none';
  const s = await stat(file);
  return `${path.resolve(file)}|${s.size}|${Math.round(s.mtimeMs)}`;
}

/** Another model file (or the same path rewritten), mmproj, context or KV type gives another fingerprint. */
export async function settingsFingerprint(f: SettingsFacts): Promise<string> {
  return sha(JSON.stringify({ v: VERSION, model: await identity(f.model), mmproj: await identity(f.mmproj), nCtx: f.nCtx, cacheType: f.cacheType }));
}

/** File stem of a conversation: hashed, so any id is a safe file name and deletion needs only the id. */
export const conversationStem = (dir: string, conversationId: string): string => path.join(dir, sha(`conversation:${conversationId}`).slice(0, 40));

export async function deleteConversationState(dir: string, conversationId: string): Promise<void> {
  const stem = conversationStem(dir, conversationId);
  await Promise.all([HEADER, STATE, META].map((ext) => rm(stem + ext, { force: true })));
}

export type LoadCheck = { ok: true; statePath: string; bytes: number } | { ok: false; reason: 'none' | 'corrupt' | 'foreign' | 'prefix' };

/**
 * The state to hand to the binding for this prompt, or why not. Anything that fails a check is
 * deleted (it can never match again), except a plain absence.
 */
export async function checkState(dir: string, conversationId: string, settings: string, prompt: string, media: readonly string[]): Promise<LoadCheck> {
  const stem = conversationStem(dir, conversationId);
  let header: StateHeader;
  try {
    header = JSON.parse(await readFile(stem + HEADER, 'utf8')) as StateHeader;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      await rm(stem + STATE, { force: true });
      return { ok: false, reason: 'none' };
    }
    return reject(stem, 'corrupt');
  }
  if (header.v !== VERSION || typeof header.stateSha !== 'string') return reject(stem, 'corrupt');
  if (header.settings !== settings) return reject(stem, 'foreign');
  const prefix = prompt.slice(0, header.prefixChars);
  const mediaPrefix = media.slice(0, header.media.length);
  if (prefix.length !== header.prefixChars || sha(prefix) !== header.prefixSha || mediaPrefix.join('\n') !== header.media.join('\n')) {
    return reject(stem, 'prefix');
  }
  try {
    const s = await stat(stem + STATE);
    if (s.size !== header.stateBytes || (await fileSha(stem + STATE)) !== header.stateSha) return reject(stem, 'corrupt');
    if (header.metaBytes >= 0) {
      const m = await readFile(stem + META);
      if (m.length !== header.metaBytes || sha(m) !== header.metaSha) return reject(stem, 'corrupt');
    }
  } catch {
    return reject(stem, 'corrupt');
  }
  const now = new Date();
  await utimes(stem + HEADER, now, now).catch(() => undefined);
  return { ok: true, statePath: stem + STATE, bytes: header.stateBytes };
}

async function reject(stem: string, reason: 'corrupt' | 'foreign' | 'prefix'): Promise<LoadCheck> {
  await Promise.all([HEADER, STATE, META].map((ext) => rm(stem + ext, { force: true })));
  return { ok: false, reason };
}

/** Where the binding should write the next state (renamed into place by commitState). */
export async function pendingStatePath(dir: string, conversationId: string, requestId: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  return `${conversationStem(dir, conversationId)}.${process.pid}-${requestId}.tmp`;
}

/** Checksums what the binding wrote and puts it in place; the header goes last, so a crash mid-way leaves nothing loadable. */
export async function commitState(dir: string, conversationId: string, tmp: string, settings: string, prompt: string, media: readonly string[]): Promise<boolean> {
  const stem = conversationStem(dir, conversationId);
  try {
    const s = await stat(tmp);
    if (s.size === 0) throw new Error('empty state');
    let metaBytes = -1;
    let metaSha = '';
    try {
      const m = await readFile(`${tmp}.meta`);
      metaBytes = m.length;
      metaSha = sha(m);
    } catch {
      // Text-only states have no sidecar.
    }
    const header: StateHeader = { v: VERSION, settings, prefixChars: prompt.length, prefixSha: sha(prompt), media: [...media], stateBytes: s.size, stateSha: await fileSha(tmp), metaBytes, metaSha };
    await rm(stem + HEADER, { force: true });
    await rename(tmp, stem + STATE);
    if (metaBytes >= 0) await rename(`${tmp}.meta`, stem + META);
    else await rm(stem + META, { force: true });
    await writeFile(`${stem}${HEADER}.tmp`, JSON.stringify(header));
    await rename(`${stem}${HEADER}.tmp`, stem + HEADER);
    return true;
  } catch {
    await Promise.all([tmp, `${tmp}.meta`].map((f) => rm(f, { force: true })));
    return false;
  }
}

interface Entry {
  stem: string;
  bytes: number;
  usedMs: number;
}

async function entries(dir: string): Promise<Entry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const byStem = new Map<string, Entry>();
  for (const name of names) {
    const stem = path.join(dir, name.split('.')[0] ?? name);
    const s = await stat(path.join(dir, name)).catch(() => null);
    if (!s?.isFile()) continue;
    const e = byStem.get(stem) ?? { stem, bytes: 0, usedMs: 0 };
    e.bytes += s.size;
    if (name.endsWith(HEADER)) e.usedMs = s.mtimeMs;
    byStem.set(stem, e);
  }
  return [...byStem.values()];
}

export async function cacheSize(dir: string): Promise<number> {
  return (await entries(dir)).reduce((sum, e) => sum + e.bytes, 0);
}

export async function clearCache(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Deletes least-recently-used states until the folder fits in capBytes; returns the size left. */
export async function enforceCap(dir: string, capBytes: number): Promise<number> {
  const all = (await entries(dir)).sort((a, b) => a.usedMs - b.usedMs);
  let total = all.reduce((sum, e) => sum + e.bytes, 0);
  for (const e of all) {
    if (total <= capBytes) break;
    const files = (await readdir(dir)).filter((n) => path.join(dir, n.split('.')[0] ?? n) === e.stem);
    await Promise.all(files.map((n) => rm(path.join(dir, n), { force: true })));
    total -= e.bytes;
  }
  return total;
}

/** Default cap: 8 GB or 10% of the free disk, whichever is lower. */
export async function defaultCapBytes(dir: string): Promise<number> {
  const { statfs } = await import('node:fs/promises');
  try {
    await mkdir(dir, { recursive: true });
    const s = await statfs(dir);
    return Math.min(8e9, Math.floor(s.bavail * s.bsize * 0.1));
  } catch {
    return 8e9;
  }
}
