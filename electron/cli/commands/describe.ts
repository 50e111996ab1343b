// `firellava describe`: a catalog job from the terminal, on the same job code as the app. The job
// lives in --data-dir, so the same command run again resumes it (finished items are kept).
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createAttachmentStore } from '../../attachments/attachment-store';
import { exportItems } from '../../catalog/catalog-export';
import { expandSources, sourceKeyOf } from '../../catalog/catalog-files';
import { parseNotesCsv } from '../../catalog/catalog-notes';
import { CatalogService } from '../../catalog/catalog-service';
import { CatalogStore } from '../../catalog/catalog-store';
import { BUILTIN_TEMPLATES, findTemplate } from '../../catalog/catalog-templates';
import { createLocalEngine } from '../../engine/engine-host';
import { ModelManager } from '../../models/model-manager';
import { CATALOG_FORMATS, type CatalogFormat } from '../../shared/contracts/catalog';
import { toAppError } from '../../shared/errors';
import { HistoryStore } from '../../store/history-store';
import { parseCommand } from '../parse-command';
import { createProgressPrinter } from '../progress-line';

const USAGE = `Usage: firellava describe <folder|files...> --out FILE [options]

Writes shop copy for every image (one item per photo) and exports it. Running the same command
again resumes the job: finished items are not generated again.

Options:
  --out FILE         where the export goes (required)
  --format NAME      ${CATALOG_FORMATS.join(' | ')} (default: the template's shop when it has
                     one, else by the extension of --out: .jsonl, .md, else csv)
  --template NAME    ${BUILTIN_TEMPLATES.map((t) => t.id).join(' | ')} (default shopify)
  --notes FILE       CSV of notes per image (a file name column, then brand, material, SKU, price...)
  --bom              start CSVs with a UTF-8 BOM (Excel)
  --model FILE       FireLLaVA GGUF weights (with --mmproj); default: the active pair of --data-dir
  --mmproj FILE      vision projector GGUF
  --data-dir DIR     where jobs, attachments and models are kept (default ~/.firellava)
  --cpu              never try GPU builds
  -h, --help         show this help

Exit status: 0 every item succeeded, 3 some failed (their rows are named on stderr; the others
are written), 1 nothing could run, 2 bad options.`;

function formatFor(explicit: string | undefined, templateId: string, out: string): CatalogFormat | null {
  if (explicit !== undefined) return (CATALOG_FORMATS as readonly string[]).includes(explicit) ? (explicit as CatalogFormat) : null;
  if (templateId === 'shopify' || templateId === 'woocommerce') return templateId;
  const ext = path.extname(out).toLowerCase();
  return ext === '.jsonl' ? 'jsonl' : ext === '.md' ? 'md' : 'csv';
}

export async function run(argv: string[]): Promise<number> {
  const cli = parseCommand(
    argv,
    {
      out: { type: 'string' },
      format: { type: 'string' },
      template: { type: 'string', default: 'shopify' },
      notes: { type: 'string' },
      bom: { type: 'boolean', default: false },
      model: { type: 'string' },
      mmproj: { type: 'string' },
      'data-dir': { type: 'string' },
      cpu: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
    true,
  );
  if (cli.exitCode !== undefined) return cli.exitCode;
  const { values, positionals } = cli;
  const bad = (message: string): number => {
    console.error(`${message}\n\n${USAGE}`);
    return 2;
  };
  if (positionals.length === 0) return bad('Name a folder or image files to describe');
  if (!values.out) return bad('--out FILE is required');
  if (!values.model !== !values.mmproj) return bad('--model and --mmproj go together');
  const out = path.resolve(values.out);
  let template;
  try {
    template = findTemplate(values.template);
  } catch (err) {
    return bad(toAppError(err).message);
  }
  const format = formatFor(values.format, template.id, out);
  if (!format) return bad(`--format must be one of ${CATALOG_FORMATS.join(', ')}`);
  const dataDir = path.resolve(values['data-dir'] ?? path.join(os.homedir(), '.firellava'));

  // Everything that can be wrong with the input is said before a model loads.
  let files: string[];
  let notesText: string | null = null;
  let notes = null;
  try {
    if (!(await stat(path.dirname(out)).catch(() => null))?.isDirectory()) throw new Error(`The folder of --out (${path.dirname(out)}) does not exist`);
    files = await expandSources(positionals);
    if (values.notes) {
      notesText = await readFile(values.notes, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new Error(`--notes ${values.notes} cannot be read (${err.code ?? err.message})`);
      });
      notes = parseNotesCsv(notesText);
    }
  } catch (err) {
    console.error(toAppError(err).message);
    return 1;
  }

  const pair = values.model ? { model: path.resolve(values.model), mmproj: path.resolve(values.mmproj!) } : (await new ModelManager({ dataDir }).activePair())?.paths;
  if (!pair) {
    console.error(`No ready model in ${path.join(dataDir, 'models')}: add one with firellava pull --data-dir ${dataDir}, or pass --model and --mmproj`);
    return 1;
  }
  const engine = createLocalEngine({ cpuOnly: values.cpu });
  const history = HistoryStore.open(path.join(dataDir, 'history.sqlite'));
  const service = new CatalogService({ store: new CatalogStore(history.db), engine, attachments: createAttachmentStore(dataDir) });
  let interrupted = false;
  const stop = (): void => {
    interrupted = true;
    void service.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const loaded = await engine.load(pair);
    if (!loaded.ok) {
      console.error(`Model not loaded: ${loaded.error.message}${loaded.error.detail ? ` (${loaded.error.detail})` : ''}`);
      return 1;
    }
    const key = sourceKeyOf(files, template, notesText);
    let job = service.store.jobBySource(key);
    if (job) {
      const c = service.store.counts(job.id);
      console.error(`Resuming: ${c.done + c.error} of ${files.length} already finished`);
    } else {
      process.stderr.write(`Reading ${files.length} images...\n`);
      const items = await service.importFiles(files, notes);
      const created = service.create({ name: path.basename(out).replace(/\.[^.]+$/, ''), template, items, sourceKey: key, start: false });
      if (created.duplicates.length) console.error(`Same photo as another, described once: ${created.duplicates.join(', ')}`);
      job = service.store.job(created.job.id);
    }
    const progress = createProgressPrinter(process.stderr);
    const off = service.onEvent((e) => e.type === 'job' && e.job.id === job.id && progress.update(e.job));
    if (!interrupted) service.start(job.id);
    await service.whenIdle(job.id);
    off();
    progress.end();
    if (interrupted) {
      console.error('Stopped; run the same command again to go on.');
      return 130;
    }
    const view = service.view(job.id);
    if (view.progress.notice) console.error(view.progress.notice);
    const items = service.store.items(job.id);
    for (const it of items) if (it.status === 'error') console.error(`failed: ${it.fileName}: ${it.error}`);
    const file = exportItems(view, items, { format, bom: values.bom });
    const tmp = `${out}.${process.pid}.tmp`;
    await writeFile(tmp, file.text);
    await rename(tmp, out);
    const failed = items.filter((it) => it.status === 'error').length;
    const unfinished = items.filter((it) => it.status === 'pending' || it.status === 'running').length;
    console.error(`Wrote ${file.rows} rows to ${out}${failed ? ` (${failed} failed)` : ''}${unfinished ? `; ${unfinished} not described yet` : ''}`);
    if (unfinished) return 1;
    return failed ? 3 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await service.close();
    await engine.dispose();
    history.close();
  }
}
