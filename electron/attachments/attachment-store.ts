// Content-addressed image store: <dataDir>/attachments/<sha256>.<ext>. The id is the hash, so the
// same image pasted twice is stored once and an id can never name a path outside the folder.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AttachmentInfo } from '../shared/types';
import { AppErrorException } from '../shared/errors';
import { IMAGE_EXTENSIONS, inspectImage } from './image-inspect';

export const ATTACHMENT_ID = /^[a-f0-9]{64}$/;

export interface AttachmentStore {
  readonly dir: string;
  /** Inspects, then stores; throws AppErrorException (IMAGE_INVALID, IMAGE_TOO_LARGE). */
  add(data: Uint8Array): Promise<AttachmentInfo>;
  /** Absolute path of a stored attachment; INVALID_INPUT for a malformed id, NOT_FOUND if absent. */
  pathOf(id: string): Promise<string>;
}

export function createAttachmentStore(dataDir: string): AttachmentStore {
  const dir = path.resolve(dataDir, 'attachments');

  return {
    dir,

    async add(data) {
      const facts = inspectImage(data);
      const id = createHash('sha256').update(data).digest('hex');
      const target = path.join(dir, `${id}.${facts.ext}`);
      const info: AttachmentInfo = { id, mimeType: facts.mimeType, byteLength: data.byteLength, width: facts.width, height: facts.height };
      if (await exists(target)) return info;
      await fs.mkdir(dir, { recursive: true });
      const temp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
      try {
        await fs.writeFile(temp, data, { flag: 'wx' });
        await fs.rename(temp, target); // atomic: readers never see a half-written image
      } catch (err) {
        await fs.rm(temp, { force: true });
        throw err;
      }
      return info;
    },

    async pathOf(id) {
      if (typeof id !== 'string' || !ATTACHMENT_ID.test(id)) {
        throw new AppErrorException({ code: 'INVALID_INPUT', message: 'An attachment id is 64 lowercase hex characters' });
      }
      for (const ext of IMAGE_EXTENSIONS) {
        const candidate = path.join(dir, `${id}.${ext}`);
        if (await exists(candidate)) return candidate;
      }
      throw new AppErrorException({ code: 'NOT_FOUND', message: `Attachment ${id.slice(0, 12)}… is not stored; attach the image again` });
    },
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}
