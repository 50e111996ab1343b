// Catalog jobs in the renderer: the job list (kept live by catalog.watch), the open job's rows,
// creating a job from uploads or a desktop pick, review edits and exports.
import type { ContractClient, StreamHandle } from '../../../electron/shared/client';
import type { CatalogEvent, CatalogField, CatalogFormat, CatalogItemView, CatalogJobView, CatalogTemplate } from '../../../electron/shared/contracts/catalog';
import { MAX_IMAGE_BYTES, engineReadableBytes } from '../lib/images';
import { downloadBytes } from '../lib/download';

export type CatalogFilter = 'all' | 'errors' | 'unapproved';
type Item = { name: string; attachmentId: string } | { name: string; error: string };

export class CatalogState {
  jobs = $state<CatalogJobView[]>([]);
  templates = $state<CatalogTemplate[]>([]);
  currentId = $state<string | null>(null);
  /** Raw: a 10,000-row job is replaced, never proxied row by row. */
  items = $state.raw<CatalogItemView[]>([]);
  filter = $state<CatalogFilter>('all');
  error = $state<string | null>(null);
  notice = $state<string | null>(null);
  /** Uploads of a job being created: done of total. */
  uploading = $state<{ done: number; total: number } | null>(null);
  /** Rows (item ids) whose regeneration is in flight. */
  regenerating = $state<number[]>([]);

  readonly current = $derived(this.jobs.find((j) => j.id === this.currentId) ?? null);
  readonly visible = $derived(
    this.filter === 'errors'
      ? this.items.filter((i) => i.status === 'error' || i.flags.length > 0)
      : this.filter === 'unapproved'
        ? this.items.filter((i) => !i.approved)
        : this.items,
  );
  /** The desktop app has the main process's open/save dialogs; headless uploads and downloads. */
  readonly desktop = typeof window !== 'undefined' && window.api !== undefined;

  #watch: StreamHandle | null = null;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #queued = new Map<number, CatalogItemView>();
  #flush = 0;

  constructor(private readonly client: ContractClient) {}

  start(): () => void {
    this.#stopped = false;
    const connect = (): void => {
      const handle = this.client.stream('catalog.watch', {}, (e) => this.apply(e));
      this.#watch = handle;
      void handle.done.then(() => {
        if (!this.#stopped && this.#watch === handle) this.#retry = setTimeout(connect, 2000);
      });
    };
    connect();
    void this.client.call('catalog.templates', {}).then((r) => {
      if (r.ok) this.templates = r.value;
    });
    return () => {
      this.#stopped = true;
      clearTimeout(this.#retry);
      this.#watch?.cancel();
      cancelAnimationFrame(this.#flush);
    };
  }

  private apply(e: CatalogEvent): void {
    if (e.type === 'job') {
      const i = this.jobs.findIndex((j) => j.id === e.job.id);
      if (i >= 0) this.jobs[i] = e.job;
      else this.jobs.unshift(e.job);
    } else if (e.type === 'item') {
      if (e.item.jobId === this.currentId) this.putItem(e.item);
    } else {
      this.jobs = this.jobs.filter((j) => j.id !== e.jobId);
      if (this.currentId === e.jobId) this.close();
    }
  }

  /** Item events arrive by the thousand (a job created, approve all): one new array per frame, not per event. */
  private putItem(item: CatalogItemView): void {
    this.#queued.set(item.id, item);
    if (this.#flush) return;
    this.#flush = requestAnimationFrame(() => {
      this.#flush = 0;
      const queued = this.#queued;
      this.#queued = new Map();
      if (this.items.some((i) => queued.has(i.id))) this.items = this.items.map((i) => queued.get(i.id) ?? i);
    });
  }

  private async call<T>(promise: Promise<{ ok: true; value: T } | { ok: false; error: { message: string } }>): Promise<T | null> {
    const r = await promise;
    if (r.ok) return r.value;
    this.error = r.error.message;
    return null;
  }

  async open(jobId: string): Promise<void> {
    this.error = null;
    this.currentId = jobId;
    this.items = [];
    this.#queued.clear();
    const items = await this.call(this.client.call('catalog.items', { jobId }));
    if (items && this.currentId === jobId) this.items = items;
  }

  close(): void {
    this.currentId = null;
    this.items = [];
  }

  /** Uploads every file (one that fails becomes an error row with its reason), then creates the job. */
  async createFromFiles(files: File[], template: CatalogTemplate, notes: File | null = null, name = ''): Promise<boolean> {
    this.error = null;
    if (files.length === 0) {
      this.error = 'Choose or drop at least one image';
      return false;
    }
    const items: Item[] = [];
    this.uploading = { done: 0, total: files.length };
    try {
      for (const file of files) {
        const fileName = (file.name || `image-${items.length + 1}`).slice(0, 512);
        items.push(await this.upload(file, fileName));
        this.uploading = { done: items.length, total: files.length };
      }
    } finally {
      this.uploading = null;
    }
    return this.create({ items }, template, notes, name);
  }

  private async upload(file: File, name: string): Promise<Item> {
    if (file.size > MAX_IMAGE_BYTES) return { name, error: `The image is ${(file.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_IMAGE_BYTES / 1024 / 1024} MB` };
    try {
      const r = await this.client.call('attachments.add', { name, mimeType: file.type, data: await engineReadableBytes(file) });
      return r.ok ? { name, attachmentId: r.value.id } : { name, error: r.error.message.slice(0, 500) };
    } catch (err) {
      return { name, error: `Could not read the file: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500) };
    }
  }

  /** Desktop only: the main process's open dialog; its files are read there, never by the renderer. */
  async createFromPick(kind: 'files' | 'folder', template: CatalogTemplate, notes: File | null = null, name = ''): Promise<boolean> {
    this.error = null;
    const pick = await this.call(this.client.call('catalog.pick', { kind }));
    if (!pick) return false;
    return this.create({ pickId: pick.pickId }, template, notes, name);
  }

  private async create(source: { items: Item[] } | { pickId: string }, template: CatalogTemplate, notes: File | null, name: string): Promise<boolean> {
    const notesCsv = notes ? await notes.text() : undefined;
    const created = await this.call(this.client.call('catalog.create', { ...source, template, notesCsv, name, concurrency: 1 }));
    if (!created) return false;
    if (!this.jobs.some((j) => j.id === created.job.id)) this.jobs.unshift(created.job);
    if (created.duplicates.length > 0) this.notice = `Same pixels as another photo, kept once: ${created.duplicates.join(', ')}`;
    await this.open(created.job.id);
    return true;
  }

  async control(action: 'pause' | 'resume' | 'cancel'): Promise<void> {
    const jobId = this.currentId;
    if (!jobId) return;
    this.error = null;
    const job = await this.call(this.client.call(`catalog.${action}`, { jobId }));
    if (job) this.apply({ type: 'job', job });
  }

  async remove(jobId: string): Promise<void> {
    if (await this.call(this.client.call('catalog.delete', { jobId }))) this.apply({ type: 'removed', jobId });
  }

  async updateItem(itemId: number, field: CatalogField, value: string): Promise<boolean> {
    this.error = null;
    const item = await this.call(this.client.call('catalog.updateItem', { itemId, field, value }));
    if (item) this.putItem(item);
    return item !== null;
  }

  async approve(itemIds: number[], approved: boolean): Promise<void> {
    if (itemIds.length === 0) return;
    this.error = null;
    const items = await this.call(this.client.call('catalog.approve', { itemIds, approved }));
    if (!items) return;
    const byId = new Map(items.map((i) => [i.id, i]));
    this.items = this.items.map((i) => byId.get(i.id) ?? i);
  }

  async regenerate(itemId: number, field?: CatalogField): Promise<void> {
    this.error = null;
    this.regenerating = [...this.regenerating, itemId];
    try {
      const item = await this.call(this.client.call('catalog.regenerate', { itemId, field }));
      if (item) this.putItem(item);
    } finally {
      this.regenerating = this.regenerating.filter((id) => id !== itemId);
    }
  }

  /** Desktop: the save dialog. Headless: the bytes come back and download through a Blob link. */
  async export(format: CatalogFormat, bom: boolean, approvedOnly: boolean): Promise<void> {
    const jobId = this.currentId;
    if (!jobId) return;
    this.error = null;
    const file = await this.call(this.client.call('catalog.export', { jobId, format, bom, approvedOnly, to: this.desktop ? 'dialog' : 'download' }));
    if (!file || file.cancelled) return;
    if (file.data) downloadBytes(file.data, file.mimeType, file.fileName);
    this.notice = `Exported ${file.rows} row${file.rows === 1 ? '' : 's'}${file.savedTo ? ` to ${file.savedTo}` : ` as ${file.fileName}`}.`;
  }
}
