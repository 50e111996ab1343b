// The bookkeeping of an unfinished download: <dest>.part holds the bytes so far and
// <dest>.part.json what they belong to (URL, size, validators), so a resume after a crash asks
// only for the rest, and only when the server still has the same file.
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { abortError } from './download-error';

export interface PartState {
  url: string;
  totalBytes: number | null;
  etag: string | null;
  lastModified: string | null;
}

export const partPath = (dest: string): string => `${dest}.part`;
const statePath = (dest: string): string => `${dest}.part.json`;

/** Bytes of an unfinished download on disk (0 when none). */
export async function partialBytes(dest: string): Promise<number> {
  try {
    return (await stat(partPath(dest))).size;
  } catch {
    return 0;
  }
}

/** Removes an unfinished download (cancel). */
export async function discardPartial(dest: string): Promise<void> {
  await Promise.all([rm(partPath(dest), { force: true }), rm(statePath(dest), { force: true })]);
}

export async function readPartState(dest: string): Promise<PartState | null> {
  try {
    const s = JSON.parse(await readFile(statePath(dest), 'utf8')) as PartState;
    return typeof s.url === 'string' ? s : null;
  } catch {
    return null;
  }
}

export async function writePartState(dest: string, state: PartState): Promise<void> {
  await writeFile(statePath(dest), JSON.stringify(state));
}

/** After the rename the record is no longer needed. */
export async function clearPartState(dest: string): Promise<void> {
  await rm(statePath(dest), { force: true });
}

/**
 * Where a download can continue: the bytes on disk when they belong to this URL and fit the
 * recorded size, else 0 with the leftovers removed.
 */
export async function resumePoint(dest: string, url: string): Promise<{ state: PartState | null; offset: number }> {
  const state = await readPartState(dest);
  const offset = state && state.url === url ? await partialBytes(dest) : 0;
  if (!state || offset === 0 || (state.totalBytes != null && offset > state.totalBytes)) {
    await discardPartial(dest);
    return { state: null, offset: 0 };
  }
  return { state, offset };
}

/** Reads the existing prefix once so the hash can continue where the bytes stop. */
export async function rehash(file: string, bytes: number, hash: Hash, signal?: AbortSignal): Promise<void> {
  if (bytes === 0) return;
  const stream = createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1024 * 1024 });
  for await (const chunk of stream) {
    if (signal?.aborted) {
      stream.destroy();
      throw abortError();
    }
    hash.update(chunk as Buffer);
  }
}
