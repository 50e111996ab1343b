// Catalog jobs over the contract: a thin mapping onto CatalogService. The renderer never names a
// path: it uploads images (attachments) or gets a pickId from the main process's open dialog, and
// exports go to the save dialog's file, into <data dir>/exports, or back as bytes.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AttachmentStore } from '../attachments/attachment-store';
import { exportItems } from '../catalog/catalog-export';
import { expandSources } from '../catalog/catalog-files';
import { notesFor, parseNotesCsv } from '../catalog/catalog-notes';
import { CatalogService } from '../catalog/catalog-service';
import { CatalogStore } from '../catalog/catalog-store';
import { BUILTIN_TEMPLATES, findTemplate } from '../catalog/catalog-templates';
import type { Engine } from '../engine/engine';
import type { CatalogExport, catalogContract } from '../shared/contracts/catalog';
import type { Handlers } from '../shared/dispatcher';
import { AppErrorException } from '../shared/errors';
import { HistoryStore } from '../store/history-store';

/** The desktop app's native dialogs (electron/main); absent headless. */
export interface FileDialogs {
  /** Absolute paths the user chose (files, or one folder); null when cancelled. */
  openImages(kind: 'files' | 'folder'): Promise<string[] | null>;
  /** The file the user chose to save to; null when cancelled. */
  saveFile(defaultName: string): Promise<string | null>;
}

export interface CatalogDeps {
  engine: Engine;
  attachments: AttachmentStore;
  history?: HistoryStore;
  dataDir?: string;
  dialogs?: FileDialogs;
  onClose?: (cleanup: () => void | Promise<void>) => void;
}

/** Picks not yet turned into a job; old ones are dropped first. */
const MAX_PICKS = 16;

const encoder = new TextEncoder();

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

export function createCatalogHandlers(deps: CatalogDeps): Handlers<typeof catalogContract> {
  const history = deps.history ?? HistoryStore.open(':memory:');
  const service = new CatalogService({ store: new CatalogStore(history.db), engine: deps.engine, attachments: deps.attachments });
  const picks = new Map<string, string[]>();
  deps.onClose?.(() => service.close());

  // Jobs the last process left running go on once a model is there to run them.
  const resume = (): void => service.resumeUnfinished();
  const unfinished = service.store.jobs().some((j) => j.state === 'running');
  if (unfinished && deps.engine.status().state === 'ready') resume();
  else if (unfinished) {
    const off = deps.engine.onStatus((s) => {
      if (s.state !== 'ready') return;
      off();
      resume();
    });
    deps.onClose?.(off);
  }

  const unavailable = (what: string): never => {
    throw new AppErrorException({ code: 'INVALID_INPUT', message: `${what} needs the desktop app; upload the images (or export with to: "download" or "data-dir") instead` });
  };

  return {
    'catalog.templates': async () => structuredClone([...BUILTIN_TEMPLATES]),
    'catalog.pick': async ({ kind }) => {
      if (!deps.dialogs) return unavailable('Choosing files');
      const chosen = await deps.dialogs.openImages(kind);
      if (!chosen || chosen.length === 0) return null;
      const files = await expandSources(chosen);
      const pickId = randomUUID();
      picks.set(pickId, files);
      while (picks.size > MAX_PICKS) picks.delete(picks.keys().next().value!);
      return { pickId, files: files.map((f) => path.basename(f)) };
    },
    'catalog.create': async ({ name, template, items, pickId, notesCsv, concurrency }) => {
      const t = findTemplate(template);
      const notes = notesCsv ? parseNotesCsv(notesCsv) : null;
      let newItems;
      if (pickId) {
        const files = picks.get(pickId);
        if (!files) throw new AppErrorException({ code: 'NOT_FOUND', message: 'These files were not chosen here (or were used already): choose them again' });
        picks.delete(pickId);
        newItems = await service.importFiles(files, notes);
      } else {
        newItems = [];
        for (const it of items!) {
          const n = notesFor(notes, it.name);
          if ('error' in it) newItems.push({ fileName: it.name, attachmentId: null, notes: n, error: it.error });
          else {
            await deps.attachments.pathOf(it.attachmentId); // NOT_FOUND before a job refers to it
            newItems.push({ fileName: it.name, attachmentId: it.attachmentId, notes: n });
          }
        }
      }
      return service.create({ name: name || t.name, template: t, items: newItems, concurrency });
    },
    'catalog.list': async () => service.list(),
    'catalog.items': async ({ jobId }) => {
      service.store.job(jobId); // NOT_FOUND rather than an empty list
      return service.store.items(jobId);
    },
    'catalog.updateItem': async ({ itemId, field, value }) => service.updateItem(itemId, field, value),
    'catalog.approve': async ({ itemIds, approved }) => service.approve(itemIds, approved),
    'catalog.regenerate': async ({ itemId, field }) => service.regenerate(itemId, field),
    'catalog.pause': async ({ jobId }) => service.pause(jobId),
    'catalog.resume': async ({ jobId }) => service.start(jobId),
    'catalog.cancel': async ({ jobId }) => service.cancel(jobId),
    'catalog.delete': async ({ jobId }) => ({ deleted: await service.delete(jobId) }),
    'catalog.export': async ({ jobId, format, bom, approvedOnly, to }): Promise<CatalogExport> => {
      const job = service.view(jobId);
      const file = exportItems(job, service.store.items(jobId), { format, bom, approvedOnly });
      const base = { fileName: file.fileName, mimeType: file.mimeType, rows: file.rows };
      if (to === 'download') return { ...base, savedTo: null, data: encoder.encode(file.text), cancelled: false };
      let target: string | null;
      if (to === 'dialog') {
        if (!deps.dialogs) return unavailable('The save dialog');
        target = await deps.dialogs.saveFile(file.fileName);
        if (!target) return { ...base, savedTo: null, data: null, cancelled: true };
      } else {
        if (!deps.dataDir) return unavailable('Exporting into the data folder');
        const dir = path.join(deps.dataDir, 'exports');
        await mkdir(dir, { recursive: true });
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        target = path.join(dir, file.fileName.replace(/(\.[a-z]+)$/, `-${stamp}$1`));
      }
      await writeAtomic(target, file.text);
      return { ...base, savedTo: target, data: null, cancelled: false };
    },
    'catalog.watch': async (_input, emit, signal) => {
      if (signal.aborted) return;
      const off = service.onEvent(emit);
      try {
        for (const job of service.list()) emit({ type: 'job', job });
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      } finally {
        off();
      }
    },
  };
}
