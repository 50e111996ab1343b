// Content-addressed image store: <dataDir>/attachments/<sha256>.<png|jpg> plus a JPEG thumbnail in
// thumbs/<sha256>.jpg. Every image is decoded and re-encoded before it is kept: that drops EXIF/GPS
// and other metadata, proves the bytes decode, and turns WebP/GIF/BMP (which llama.cpp's loader
// cannot always read) into PNG. The id is the hash of the stored file, so it dedupes and can never
// name a path outside the folder.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { AttachmentInfo } from '../shared/types';
import { AppErrorException, storageErrorOf } from '../shared/errors';
import { ensurePrivateDirAsync, writePrivateFile } from '../store/private-files';
import { decodeBmp } from './bmp-decode';
import { inspectImage, MAX_ATTACHMENT_PIXELS, MAX_STORED_EDGE } from './image-inspect';

export const ATTACHMENT_ID = /^[a-f0-9]{64}$/;
export const THUMBNAIL_SIZE = 256;
/** What we write; older stores may hold other extensions, which pathOf still finds. */
const STORED_EXTENSIONS = ['png', 'jpg', 'gif', 'webp', 'bmp'] as const;
const MIME_OF: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp' };

export type AttachmentVariant = 'full' | 'thumb';

export interface AttachmentStore {
  readonly dir: string;
  /** Checks, re-encodes, then stores; throws AppErrorException (IMAGE_INVALID, IMAGE_TOO_LARGE, STORAGE_FULL). */
  add(data: Uint8Array): Promise<AttachmentInfo>;
  /** Like add, and says whether this call wrote the file (false: it was stored already). */
  addNew(data: Uint8Array): Promise<{ info: AttachmentInfo; created: boolean }>;
  /** Deletes these stored images and their thumbnails now (an import that was refused). */
  discard(ids: Iterable<string>): Promise<void>;
  /** Absolute path of a stored attachment; INVALID_INPUT for a malformed id, NOT_FOUND if absent. */
  pathOf(id: string): Promise<string>;
  /** Facts about a stored attachment (read from the file). */
  info(id: string): Promise<AttachmentInfo>;
  /** Deletes stored files whose id is not in `keep` and that are older than `minAgeMs` (fresh ones may be in a composer). */
  collect(keep: ReadonlySet<string>, minAgeMs?: number): Promise<number>;
}

const invalidId = (): AppErrorException => new AppErrorException({ code: 'INVALID_INPUT', message: 'An attachment id is 64 lowercase hex characters' });

/**
 * Maps an id to its file inside `dir` (the attachments folder) or null. For the Electron protocol
 * handler and the headless server route: nothing but a well-formed id ever reaches the file system.
 */
export async function resolveAttachmentFile(dir: string, id: string, variant: AttachmentVariant = 'full'): Promise<{ path: string; mimeType: string } | null> {
  if (typeof id !== 'string' || !ATTACHMENT_ID.test(id)) return null;
  const root = path.resolve(dir);
  if (variant === 'thumb') {
    const thumb = path.join(root, 'thumbs', `${id}.jpg`);
    if (await isFile(thumb)) return { path: thumb, mimeType: 'image/jpeg' };
  }
  for (const ext of STORED_EXTENSIONS) {
    const candidate = path.join(root, `${id}.${ext}`);
    if (await isFile(candidate)) return { path: candidate, mimeType: MIME_OF[ext]! };
  }
  return null;
}

const decodeError = (err: unknown): AppErrorException => {
  const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
  return new AppErrorException({ code: 'IMAGE_INVALID', message: `The image could not be decoded (${reason}).` });
};

/** Decodes at once: each may hold a few hundred MB of pixels, so a burst waits instead of adding up. */
const MAX_PARALLEL_DECODES = 2;
let decoding = 0;
const waiting: (() => void)[] = [];
async function withDecodeSlot<T>(work: () => Promise<T>): Promise<T> {
  while (decoding >= MAX_PARALLEL_DECODES) await new Promise<void>((resolve) => waiting.push(resolve));
  decoding++;
  try {
    return await work();
  } finally {
    decoding--;
    waiting.shift()?.();
  }
}

/** Decoded and re-encoded bytes: JPEG stays JPEG (photos), everything else becomes PNG. */
export function reencodeImage(data: Uint8Array): ReturnType<typeof reencodeNow> {
  inspectImage(data); // cheap refusals need no slot
  return withDecodeSlot(() => reencodeNow(data));
}

async function reencodeNow(data: Uint8Array): Promise<{ bytes: Buffer; ext: 'png' | 'jpg'; width: number; height: number; thumbnail: Buffer }> {
  const facts = inspectImage(data); // structure and size limits before any decoding
  const input = (): Sharp => {
    if (facts.format === 'bmp') {
      const raw = decodeBmp(data);
      return sharp(raw.pixels, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
    }
    return sharp(data, { limitInputPixels: MAX_ATTACHMENT_PIXELS, failOn: 'error', animated: false });
  };
  try {
    // rotate() applies the EXIF orientation, which is about to be stripped with the rest of the metadata.
    // The resize bounds memory: JPEG/WebP shrink on load, and no later step sees more than MAX_STORED_EDGE.
    const base = input().rotate().resize(MAX_STORED_EDGE, MAX_STORED_EDGE, { fit: 'inside', withoutEnlargement: true });
    const ext = facts.format === 'jpeg' ? 'jpg' : 'png';
    const { data: bytes, info } =
      ext === 'jpg' ? await base.jpeg({ quality: 92, chromaSubsampling: '4:4:4' }).toBuffer({ resolveWithObject: true }) : await base.png({ compressionLevel: 6 }).toBuffer({ resolveWithObject: true });
    const thumbnail = await sharp(bytes)
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 80 })
      .toBuffer();
    return { bytes, ext, width: info.width, height: info.height, thumbnail };
  } catch (err) {
    if (err instanceof AppErrorException) throw err;
    throw decodeError(err);
  }
}

export interface AttachmentStoreOptions {
  /** Writes one file atomically and privately; tests inject failures (a full disk) here. */
  writeFile?: (target: string, bytes: Uint8Array) => Promise<void>;
}

const FULL_MESSAGE = 'The disk is full: the image could not be saved. Free some space and try again.';

export function createAttachmentStore(dataDir: string, options: AttachmentStoreOptions = {}): AttachmentStore {
  const dir = path.resolve(dataDir, 'attachments');
  const thumbs = path.join(dir, 'thumbs');
  const writeFile = options.writeFile ?? ((target: string, bytes: Uint8Array) => writePrivateFile(target, bytes));

  const filesOf = (id: string): string[] => [path.join(thumbs, `${id}.jpg`), ...STORED_EXTENSIONS.map((ext) => path.join(dir, `${id}.${ext}`))];

  const store: AttachmentStore = {
    dir,

    async add(data) {
      return (await store.addNew(data)).info;
    },

    async addNew(data) {
      const image = await reencodeImage(data);
      const id = createHash('sha256').update(image.bytes).digest('hex');
      const target = path.join(dir, `${id}.${image.ext}`);
      const info: AttachmentInfo = { id, mimeType: MIME_OF[image.ext]!, byteLength: image.bytes.byteLength, width: image.width, height: image.height };
      // A stored copy damaged on disk since is written again: the same image must not keep failing.
      const existing = await fs.readFile(target).catch(() => null);
      if (existing?.equals(image.bytes)) {
        await fs.utimes(target, new Date(), new Date()).catch(() => undefined); // fresh again for collect()
        return { info, created: false };
      }
      const thumb = path.join(thumbs, `${id}.jpg`);
      try {
        await ensurePrivateDirAsync(thumbs);
        await writeFile(thumb, image.thumbnail);
        await writeFile(target, image.bytes); // last: its presence means the pair is complete
      } catch (err) {
        await fs.rm(thumb, { force: true });
        const storage = storageErrorOf(err);
        if (storage?.code === 'STORAGE_FULL') throw new AppErrorException({ ...storage, message: FULL_MESSAGE });
        if (storage) throw new AppErrorException(storage);
        throw err;
      }
      return { info, created: true };
    },

    async discard(ids) {
      for (const id of ids) {
        if (!ATTACHMENT_ID.test(id)) continue;
        for (const file of filesOf(id)) await fs.rm(file, { force: true });
      }
    },

    async pathOf(id) {
      if (typeof id !== 'string' || !ATTACHMENT_ID.test(id)) throw invalidId();
      const found = await resolveAttachmentFile(dir, id);
      if (!found) throw new AppErrorException({ code: 'NOT_FOUND', message: `Attachment ${id.slice(0, 12)}… is not stored; attach the image again` });
      return found.path;
    },

    async info(id) {
      const file = await store.pathOf(id);
      const [meta, stat] = await Promise.all([sharp(file).metadata(), fs.stat(file)]);
      const ext = path.extname(file).slice(1);
      return { id, mimeType: MIME_OF[ext] ?? 'application/octet-stream', byteLength: stat.size, width: meta.width ?? 0, height: meta.height ?? 0 };
    },

    async collect(keep, minAgeMs = 60 * 60 * 1000) {
      let names: string[];
      try {
        names = await fs.readdir(dir);
      } catch {
        return 0;
      }
      let removed = 0;
      const cutoff = Date.now() - minAgeMs;
      for (const name of names) {
        const m = /^([a-f0-9]{64})\.[a-z]+$/.exec(name);
        if (!m || keep.has(m[1]!)) continue;
        const file = path.join(dir, name);
        const stat = await fs.stat(file).catch(() => null);
        if (!stat?.isFile() || stat.mtimeMs > cutoff) continue;
        await fs.rm(file, { force: true });
        await fs.rm(path.join(thumbs, `${m[1]}.jpg`), { force: true });
        removed++;
      }
      return removed;
    },
  };
  return store;
}

/** A regular file, not a symlink (a link could point anywhere outside the folder). */
async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.lstat(file)).isFile();
  } catch {
    return false;
  }
}
