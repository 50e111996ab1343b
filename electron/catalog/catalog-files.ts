// Which files a catalog job is made of: folders expanded to their images (not recursive, sorted by
// name as a file manager shows them), and the key that finds the same job again for a resume.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CatalogTemplate } from '../shared/contracts/catalog';
import { AppErrorException } from '../shared/errors';

/** Image files a folder may hold; sharp decides whether each one really is an image. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.heic', '.heif', '.avif', '.tif', '.tiff'];

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Absolute paths of the images: files as given (any extension), folders by image extension. */
export async function expandSources(sources: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (p: string): void => {
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  };
  for (const source of sources) {
    const abs = path.resolve(source);
    const st = await stat(abs).catch((err: NodeJS.ErrnoException) => {
      throw new AppErrorException({ code: 'INVALID_INPUT', message: `${source} cannot be read (${err.code ?? err.message})` });
    });
    if (st.isDirectory()) {
      const names = (await readdir(abs, { withFileTypes: true }))
        .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
        .map((e) => e.name)
        .sort(byName.compare);
      for (const n of names) add(path.join(abs, n));
    } else {
      // A file named on purpose is tried whatever its extension; a bad one becomes an error row.
      add(abs);
    }
  }
  if (out.length === 0) throw new AppErrorException({ code: 'INVALID_INPUT', message: `No images (${IMAGE_EXTENSIONS.join(' ')}) in ${sources.join(', ')}` });
  return out;
}

/** Same files, template and notes → same key, so running the same command again resumes that job. */
export function sourceKeyOf(files: readonly string[], template: CatalogTemplate, notesCsv: string | null): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ files, template, notes: notesCsv === null ? null : createHash('sha256').update(notesCsv).digest('hex') }));
  return h.digest('hex');
}
