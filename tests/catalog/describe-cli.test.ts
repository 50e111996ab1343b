// `firellava describe` end to end: the built CLI on the real engine writes a Shopify CSV, names
// each failed file and exits 3; killed with SIGKILL mid-job, the same command resumes without
// generating a finished item again.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOPIFY_COLUMNS } from '../../electron/catalog/catalog-export';
import type { LlavaPairPaths } from '../../electron/fixtures/tiny-llava';
import type { CatalogItemView } from '../../electron/shared/contracts/catalog';
import { CatalogStore } from '../../electron/catalog/catalog-store';
import { HistoryStore } from '../../electron/store/history-store';
import { CLI, writeLongContextPair } from '../api/api-helpers';
import { REPO_ROOT } from '../helpers/fixtures';
import { BROKEN, parseCsvWithPython, records, TRICKY, writeNotesCsv, writePhotoFolder } from './catalog-helpers';

describe('firellava describe', () => {
  let tmp: string;
  let pair: LlavaPairPaths;
  let folder: string;
  let good: string[];

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-describe-'));
    pair = await writeLongContextPair(path.join(tmp, 'model'));
    folder = path.join(tmp, 'photos');
    ({ good } = writePhotoFolder(folder, 20));
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const args = (dataDir: string, out: string, extra: string[] = []): string[] => [CLI, 'describe', folder, '--out', out, '--model', pair.model, '--mmproj', pair.mmproj, '--data-dir', dataDir, ...extra];

  const itemsOf = (dataDir: string): CatalogItemView[] => {
    const h = HistoryStore.open(path.join(dataDir, 'history.sqlite'));
    try {
      const store = new CatalogStore(h.db);
      const jobs = store.jobs();
      expect(jobs).toHaveLength(1);
      return store.items(jobs[0]!.id);
    } finally {
      h.close();
    }
  };

  it('writes a Shopify CSV for the good photos, names each failed file and exits 3', async () => {
    const dataDir = path.join(tmp, 'data-shopify');
    const out = path.join(tmp, 'products.csv');
    const notes = path.join(tmp, 'notes.csv');
    writeNotesCsv(notes, good);
    const r = spawnSync(process.execPath, args(dataDir, out, ['--notes', notes, '--bom']), { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000 });
    expect(r.status, r.stderr).toBe(3);
    const failed = r.stderr.split('\n').filter((l) => l.startsWith('failed: '));
    expect(failed.map((l) => l.split(': ')[1]).sort()).toEqual([...BROKEN].sort());
    expect(failed.find((l) => l.includes(BROKEN[0]!))).toMatch(/truncated/);
    expect(r.stderr).toMatch(/\[#{24}\]\s+20\/20\s+2 failed/);

    const rows = records(parseCsvWithPython(out));
    expect(rows).toHaveLength(18);
    expect(Object.keys(rows[0]!)).toEqual([...SHOPIFY_COLUMNS]);
    expect(rows.map((x) => x['Image Src'])).toEqual(good);
    expect(rows.every((x) => x.Vendor === TRICKY.brand && x.Title !== '' && x['Body (HTML)']!.startsWith('<p>'))).toBe(true);

    // Run again: every item is finished, nothing is generated, the same rows are written.
    const again = spawnSync(process.execPath, args(dataDir, out, ['--notes', notes, '--bom']), { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(again.status, again.stderr).toBe(3);
    expect(again.stderr).toMatch(/Resuming: 20 of 20 already finished/);
    expect(records(parseCsvWithPython(out))).toEqual(rows);
    expect(itemsOf(dataDir).every((i) => i.attempts <= 1)).toBe(true);
  }, 240_000);

  it('killed with SIGKILL mid-job, the same command resumes: finished items kept, none generated twice', async () => {
    const dataDir = path.join(tmp, 'data-kill');
    const out = path.join(tmp, 'alt.jsonl');
    const child = spawn(process.execPath, args(dataDir, out, ['--template', 'alt-text']), { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        // Lines read "[###...] 6/20  2 failed ..."; kill once a few photos are really described.
        const m = [...stderr.matchAll(/ (\d+)\/20/g)].pop();
        if (m && Number(m[1]) >= 6) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`describe ended before it was killed:\n${stderr}`)));
    });
    await new Promise((resolve) => child.once('exit', resolve));

    const before = itemsOf(dataDir);
    const finished = before.filter((i) => i.status === 'done');
    expect(finished.length).toBeGreaterThanOrEqual(4);
    expect(finished.length).toBeLessThan(18);

    const r = spawnSync(process.execPath, args(dataDir, out, ['--template', 'alt-text']), { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000 });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`Resuming: ${finished.length + 2} of 20 already finished`));
    const after = itemsOf(dataDir);
    expect(after.filter((i) => i.status === 'done')).toHaveLength(18);
    // Finished before the kill: untouched (same text, same time, one generation).
    for (const f of finished) expect(after.find((i) => i.id === f.id)).toEqual(f);
    // At most the item in flight at the kill ran twice.
    expect(after.filter((i) => i.attempts > 1).length).toBeLessThanOrEqual(1);
    expect(after.every((i) => i.attempts <= 2)).toBe(true);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(20);
  }, 240_000);
});
