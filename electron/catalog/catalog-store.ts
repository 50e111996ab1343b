// Catalog jobs and items in the history database (migration 6). Every finished item is one short
// write, so a crash loses at most the items in flight; those read "running" on the next start
// and go back to the queue.
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { CatalogItemStatus, CatalogItemView, CatalogJobState, CatalogTemplate, CatalogValues } from '../shared/contracts/catalog';
import { AppErrorException } from '../shared/errors';

interface JobRow {
  id: string;
  name: string;
  template: string;
  state: CatalogJobState;
  source_key: string | null;
  concurrency: number;
  created_at: number;
  updated_at: number;
}

interface ItemRow {
  id: number;
  job_id: string;
  position: number;
  file_name: string;
  attachment_id: string | null;
  notes: string;
  status: CatalogItemStatus;
  fields: string;
  flags: string;
  error: string | null;
  approved: number;
  attempts: number;
  ms: number | null;
  updated_at: number;
}

export interface StoredJob {
  id: string;
  name: string;
  template: CatalogTemplate;
  state: CatalogJobState;
  sourceKey: string | null;
  concurrency: number;
  createdAt: number;
  updatedAt: number;
}

export interface NewItem {
  fileName: string;
  attachmentId: string | null;
  notes: Record<string, string>;
  /** Set for a file that never became an image. */
  error?: string;
}

const job = (r: JobRow): StoredJob => ({
  id: r.id,
  name: r.name,
  template: JSON.parse(r.template) as CatalogTemplate,
  state: r.state,
  sourceKey: r.source_key,
  concurrency: r.concurrency,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const item = (r: ItemRow): CatalogItemView => ({
  id: r.id,
  jobId: r.job_id,
  position: r.position,
  fileName: r.file_name,
  attachmentId: r.attachment_id,
  notes: JSON.parse(r.notes) as Record<string, string>,
  status: r.status,
  values: JSON.parse(r.fields) as CatalogValues,
  flags: JSON.parse(r.flags) as string[],
  error: r.error,
  approved: r.approved === 1,
  attempts: r.attempts,
  ms: r.ms,
  updatedAt: r.updated_at,
});

/** Generations one item may start (the first and one retry after a crash). */
export const MAX_ATTEMPTS = 2;
export const STOPPED_TWICE = 'The engine stopped twice while describing this image; it was not tried again';

const notFound = (what: string): AppErrorException => new AppErrorException({ code: 'NOT_FOUND', message: `${what} does not exist (it may have been deleted)` });

export class CatalogStore {
  now: () => number = Date.now;
  private readonly statements;

  constructor(readonly db: Database.Database) {
    this.statements = {
      item: db.prepare('SELECT * FROM catalog_items WHERE id = ?'),
      items: db.prepare('SELECT * FROM catalog_items WHERE job_id = ? ORDER BY position'),
      // A finished row written again counts its generations from 1: a regeneration has its own retry.
      start: db.prepare("UPDATE catalog_items SET status = 'running', attempts = CASE WHEN status IN ('done', 'error') THEN 1 ELSE attempts + 1 END, updated_at = ? WHERE id = ? AND status IN ('pending', 'running', 'done', 'error')"),
      finish: db.prepare('UPDATE catalog_items SET status = ?, fields = ?, flags = ?, error = ?, ms = ?, attempts = coalesce(?, attempts), approved = 0, updated_at = ? WHERE id = ?'),
      counts: db.prepare('SELECT status, count(*) AS n FROM catalog_items WHERE job_id = ? GROUP BY status'),
      nextPending: db.prepare("SELECT * FROM catalog_items WHERE job_id = ? AND status = 'pending' ORDER BY position LIMIT ?"),
    };
  }

  createJob(input: { name: string; template: CatalogTemplate; sourceKey?: string | null; concurrency?: number; items: NewItem[] }): { job: StoredJob; duplicates: string[] } {
    const id = randomUUID();
    const t = this.now();
    const duplicates: string[] = [];
    this.db.transaction(() => {
      this.db
        .prepare("INSERT INTO catalog_jobs (id, name, template, state, source_key, concurrency, created_at, updated_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)")
        .run(id, input.name.slice(0, 200), JSON.stringify(input.template), input.sourceKey ?? null, input.concurrency ?? 1, t, t);
      const insert = this.db.prepare(
        'INSERT INTO catalog_items (job_id, position, file_name, attachment_id, notes, status, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, attachment_id) DO NOTHING',
      );
      let position = 0;
      for (const it of input.items) {
        const r = insert.run(id, position, it.fileName, it.attachmentId, JSON.stringify(it.notes), it.error ? 'error' : 'pending', it.error ?? null, t);
        // The same photo twice (same sha256 after re-encoding) is one item.
        if (r.changes === 0) duplicates.push(it.fileName);
        else position++;
      }
    })();
    return { job: this.job(id), duplicates };
  }

  job(id: string): StoredJob {
    const r = this.db.prepare('SELECT * FROM catalog_jobs WHERE id = ?').get(id) as JobRow | undefined;
    if (!r) throw notFound('This catalog job');
    return job(r);
  }

  jobs(): StoredJob[] {
    return (this.db.prepare('SELECT * FROM catalog_jobs ORDER BY created_at DESC, rowid DESC').all() as JobRow[]).map(job);
  }

  /** The newest job made from the same files, template and notes (the CLI resumes it). */
  jobBySource(sourceKey: string): StoredJob | null {
    const r = this.db.prepare('SELECT * FROM catalog_jobs WHERE source_key = ? ORDER BY created_at DESC LIMIT 1').get(sourceKey) as JobRow | undefined;
    return r ? job(r) : null;
  }

  setState(id: string, state: CatalogJobState): StoredJob {
    const r = this.db.prepare('UPDATE catalog_jobs SET state = ?, updated_at = ? WHERE id = ?').run(state, this.now(), id);
    if (r.changes === 0) throw notFound('This catalog job');
    return this.job(id);
  }

  deleteJob(id: string): boolean {
    return this.db.prepare('DELETE FROM catalog_jobs WHERE id = ?').run(id).changes > 0;
  }

  items(jobId: string): CatalogItemView[] {
    return (this.statements.items.all(jobId) as ItemRow[]).map(item);
  }

  item(id: number): CatalogItemView {
    const r = this.statements.item.get(id) as ItemRow | undefined;
    if (!r) throw notFound('This catalog item');
    return item(r);
  }

  pending(jobId: string, limit: number): CatalogItemView[] {
    return (this.statements.nextPending.all(jobId, limit) as ItemRow[]).map(item);
  }

  counts(jobId: string): Record<CatalogItemStatus, number> {
    const out: Record<CatalogItemStatus, number> = { pending: 0, running: 0, done: 0, error: 0 };
    for (const r of this.statements.counts.all(jobId) as { status: CatalogItemStatus; n: number }[]) out[r.status] = r.n;
    return out;
  }

  /** Written before the engine is asked, so a restart knows a generation was started. */
  markRunning(itemId: number): CatalogItemView {
    this.statements.start.run(this.now(), itemId);
    return this.item(itemId);
  }

  /** `attempts` puts the count back (a stopped generation is not an attempt). */
  finishItem(itemId: number, r: { status: 'done' | 'error' | 'pending'; values?: CatalogValues; flags?: string[]; error?: string | null; ms?: number | null; attempts?: number }): CatalogItemView {
    const before = this.item(itemId);
    this.statements.finish.run(
      r.status,
      JSON.stringify(r.values ?? before.values),
      JSON.stringify(r.flags ?? []),
      r.error ?? null,
      r.ms ?? before.ms,
      r.attempts ?? null,
      this.now(),
      itemId,
    );
    return this.item(itemId);
  }

  updateValue(itemId: number, field: string, value: string, flags: string[]): CatalogItemView {
    const before = this.item(itemId);
    if (before.status !== 'done') throw new AppErrorException({ code: 'INVALID_INPUT', message: 'Only finished rows can be edited' });
    const values = { ...before.values, [field]: value };
    this.db.prepare('UPDATE catalog_items SET fields = ?, flags = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(values), JSON.stringify(flags), this.now(), itemId);
    return this.item(itemId);
  }

  approve(itemIds: number[], approved: boolean): CatalogItemView[] {
    const st = this.db.prepare("UPDATE catalog_items SET approved = ?, updated_at = ? WHERE id = ? AND status = 'done'");
    this.db.transaction(() => {
      for (const id of itemIds) st.run(approved ? 1 : 0, this.now(), id);
    })();
    return itemIds.map((id) => this.item(id));
  }

  /**
   * After a crash or quit: items left "running" are queued again, once. An item that was in flight
   * at two crashes becomes an error row, so one photo that kills the process cannot loop forever.
   * Returns how many went back to the queue.
   */
  requeueInterrupted(): number {
    return this.db.transaction(() => {
      this.db
        .prepare(`UPDATE catalog_items SET status = 'error', error = ?, updated_at = ? WHERE status = 'running' AND attempts >= ${MAX_ATTEMPTS}`)
        .run(STOPPED_TWICE, this.now());
      const requeued = this.db.prepare("UPDATE catalog_items SET status = 'pending' WHERE status = 'running'").run().changes;
      // A regeneration cut short in a finished job: the job runs again, so the row gets written.
      if (requeued > 0) {
        this.db
          .prepare("UPDATE catalog_jobs SET state = 'running', updated_at = ? WHERE state = 'done' AND id IN (SELECT job_id FROM catalog_items WHERE status = 'pending')")
          .run(this.now());
      }
      return requeued;
    })();
  }

  /** Back to the queue for a regeneration. */
  requeue(itemId: number): void {
    this.db.prepare("UPDATE catalog_items SET status = 'pending', approved = 0, updated_at = ? WHERE id = ?").run(this.now(), itemId);
  }
}
