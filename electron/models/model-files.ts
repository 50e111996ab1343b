// Names and facts of a pair's two files: ids and file names derived from where they come from,
// sizes, checksums and the identity (size, mtime) a broken mark is tied to.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ModelFileRole } from '../shared/contracts/models';

export const ROLES: ModelFileRole[] = ['model', 'mmproj'];

export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/\.gguf$/, '')
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 60) || 'model'
  );
}

export function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

/** A pair's id: the model's name, made unique by where both files come from. */
export function pairId(modelName: string, modelSource: string, mmprojSource: string): string {
  return `${slug(modelName)}-${shortHash(`${modelSource}\n${mmprojSource}`)}`;
}

export function fileNameOf(url: string): string {
  const last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  return /^[\w.-]+$/.test(last) && last.length > 0 ? last : `${shortHash(url)}.gguf`;
}

/** Both files live in one folder, so a projector named like the model gets a prefix. */
export function pairFileNames(modelName: string, mmprojName: string): { model: string; mmproj: string } {
  return { model: modelName, mmproj: mmprojName === modelName ? `mmproj-${mmprojName}` : mmprojName };
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Size and modification time of both files: what a broken mark is tied to. */
export async function pairIdentity(files: string[]): Promise<string> {
  const parts = await Promise.all(files.map((f) => stat(f).then((s) => `${s.size}:${s.mtimeMs}`, () => 'gone')));
  return parts.join('|');
}

export async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch {
    return null;
  }
}
