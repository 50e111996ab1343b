// Per-item notes (brand, material, price, SKU...) from a CSV joined to the images by file name.
import path from 'node:path';
import { AppErrorException } from '../shared/errors';
import { parseCsv } from './csv';

const FILE_COLUMNS = ['file', 'filename', 'file name', 'file_name', 'image', 'image file', 'photo'];
const MAX_NOTE_CHARS = 500;

export type NotesByFile = Map<string, Record<string, string>>;

const key = (name: string): string => path.basename(name.replace(/\\/g, '/')).normalize('NFC').toLowerCase();

/** The file column is the one named like "file"/"image", else the first. Other columns become notes. */
export function parseNotesCsv(text: string): NotesByFile {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (err) {
    throw new AppErrorException({ code: 'INVALID_INPUT', message: `The notes CSV cannot be read: ${(err as Error).message}` });
  }
  const header = rows.shift()?.map((h) => h.trim());
  if (!header || header.length < 2) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'The notes CSV needs a header row with a file name column and at least one note column' });
  const found = header.findIndex((h) => FILE_COLUMNS.includes(h.toLowerCase()));
  const fileCol = found >= 0 ? found : 0;
  const out: NotesByFile = new Map();
  for (const row of rows) {
    const name = row[fileCol]?.trim();
    if (!name) continue;
    const notes: Record<string, string> = {};
    header.forEach((h, i) => {
      const v = (row[i] ?? '').trim();
      if (i !== fileCol && h && v) notes[h.slice(0, 60)] = v.slice(0, MAX_NOTE_CHARS);
    });
    out.set(key(name), notes);
  }
  return out;
}

export const notesFor = (notes: NotesByFile | null, fileName: string): Record<string, string> => notes?.get(key(fileName)) ?? {};

/** A note by any of its usual names ("Brand", "vendor"...), case-insensitive. */
export function noteValue(notes: Record<string, string>, ...names: string[]): string {
  for (const [k, v] of Object.entries(notes)) if (names.includes(k.toLowerCase())) return v;
  return '';
}
