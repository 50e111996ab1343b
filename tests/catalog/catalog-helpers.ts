// Shared by the catalog tests: a folder of distinct photos with broken files among them, a notes
// CSV with the characters that break naive CSV code, and a real CSV parser (Python's csv module).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeCsv } from '../../electron/catalog/csv';
import { makePng } from '../helpers/test-images';

/** Cells that must come back unchanged from every CSV export. */
export const TRICKY = {
  brand: 'Acme, Inc.',
  material: 'He said "100% wool"',
  care: 'line one\nline two, with comma\r\nline three',
  origin: '日本製 · Чай · ☕ · café',
};

export const BROKEN = ['broken-07.png', 'notes-12.jpg'];

/** `count` distinct PNGs named photo-NN.png, two of them replaced by the BROKEN files. */
export function writePhotoFolder(dir: string, count: number): { files: string[]; good: string[] } {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 1; i <= count; i++) {
    const n = String(i).padStart(2, '0');
    if (i === 7) {
      // A PNG cut in the middle of its pixel data.
      writeFileSync(path.join(dir, BROKEN[0]!), makePng(28, 28, 700).subarray(0, 60));
      files.push(BROKEN[0]!);
    } else if (i === 12) {
      writeFileSync(path.join(dir, BROKEN[1]!), 'this is a text file with an image extension\n');
      files.push(BROKEN[1]!);
    } else {
      writeFileSync(path.join(dir, `photo-${n}.png`), makePng(28, 28, i * 11));
      files.push(`photo-${n}.png`);
    }
  }
  return { files, good: files.filter((f) => !BROKEN.includes(f)) };
}

export function writeNotesCsv(file: string, names: string[]): void {
  const rows = names.map((name, i) => [name, TRICKY.brand, TRICKY.material, TRICKY.care, TRICKY.origin, `SKU-${i + 1}`, `${10 + i}.99`]);
  writeFileSync(file, writeCsv(['File name', 'Brand', 'Material', 'Care', 'Origin', 'SKU', 'Price'], rows));
}

/** Rows of a CSV file as Python's csv module reads it (BOM dropped); throws when python3 is absent. */
export function parseCsvWithPython(file: string): string[][] {
  const code = "import csv, json, sys\nwith open(sys.argv[1], newline='', encoding='utf-8-sig') as f:\n    print(json.dumps(list(csv.reader(f, strict=True))))";
  const r = spawnSync('python3', ['-c', code, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`python3 is needed to parse the CSV with a real parser: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`Python's csv module refused the file: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[][];
}

/** Header + rows → one object per row. */
export function records(rows: string[][]): Record<string, string>[] {
  const [header, ...rest] = rows;
  return rest.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])));
}

/** Code points, as the shops and the templates' limits count them. */
export const codePoints = (s: string): number => [...s].length;
