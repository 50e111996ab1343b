// Catalog jobs: a folder of product photos → one JSON-schema-constrained generation per photo →
// a review grid → shop CSVs. Types shared by the backend (electron/catalog) and the renderer.
import { z } from 'zod';
import { call, stream } from '../contract-kit';
import type { GeneratePhase } from '../types';

export const CATALOG_FIELDS = ['title', 'bullets', 'shortDescription', 'longDescription', 'tags', 'altText', 'seoTitle', 'seoDescription'] as const;
export type CatalogField = (typeof CATALOG_FIELDS)[number];

export const CATALOG_FORMATS = ['shopify', 'woocommerce', 'csv', 'jsonl', 'md'] as const;
export type CatalogFormat = (typeof CATALOG_FORMATS)[number];

/** Hard caps on what a template may ask for (the schema's maxLength per field). */
export const FIELD_LIMIT_MAX: Record<CatalogField, number> = {
  title: 255,
  bullets: 500,
  shortDescription: 1000,
  longDescription: 5000,
  tags: 60,
  altText: 512,
  seoTitle: 70,
  seoDescription: 320,
};

export interface CatalogTemplate {
  /** Built-in id (shopify, woocommerce, amazon-bullets, alt-text) or 'custom'. */
  id: string;
  name: string;
  fields: CatalogField[];
  tone: string;
  language: string;
  /** Characters (code points) per field; for bullets and tags: per entry. */
  limits: Partial<Record<CatalogField, number>>;
  /** Extra words for the prompt. */
  instructions: string;
}

export type CatalogJobState = 'running' | 'paused' | 'done' | 'cancelled';
export type CatalogItemStatus = 'pending' | 'running' | 'done' | 'error';

/** Field values as stored: bullets one per line, tags comma-separated. */
export type CatalogValues = Partial<Record<CatalogField, string>>;

export interface CatalogItemView {
  id: number;
  jobId: string;
  position: number;
  fileName: string;
  /** null when the file never became an image (error row). */
  attachmentId: string | null;
  notes: Record<string, string>;
  status: CatalogItemStatus;
  values: CatalogValues;
  /** Fields still over their limit after one regeneration. */
  flags: string[];
  error: string | null;
  approved: boolean;
  /** Generations started for this writing of the row (a crash mid-item shows as 2; a regeneration starts again at 1). */
  attempts: number;
  ms: number | null;
  updatedAt: number;
}

export interface CatalogProgress {
  total: number;
  done: number;
  failed: number;
  /** Items being generated now, with their engine phase. */
  running: { itemId: number; fileName: string; phase: GeneratePhase | 'validating' }[];
  /** Measured in this run; null until one item finished. */
  msPerItem: number | null;
  etaSeconds: number | null;
  /** Why a job paused by itself (no model loaded), else null. */
  notice: string | null;
}

export interface CatalogJobView {
  id: string;
  name: string;
  template: CatalogTemplate;
  state: CatalogJobState;
  createdAt: number;
  updatedAt: number;
  progress: CatalogProgress;
}

export type CatalogEvent = { type: 'job'; job: CatalogJobView } | { type: 'item'; item: CatalogItemView } | { type: 'removed'; jobId: string };

const jobId = z.string().regex(/^[a-z0-9-]{1,64}$/, 'Not a job id');
const field = z.enum(CATALOG_FIELDS);
export const catalogTemplateSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]{1,40}$/),
    name: z.string().min(1).max(100),
    fields: z.array(field).min(1).max(CATALOG_FIELDS.length),
    tone: z.string().max(200).default(''),
    language: z.string().max(60).default('English'),
    limits: z.partialRecord(field, z.number().int().min(1).max(5000)).default({}),
    instructions: z.string().max(2000).default(''),
  })
  .strict();

const itemInput = z.union([
  z.object({ name: z.string().min(1).max(512), attachmentId: z.string().regex(/^[a-f0-9]{64}$/) }).strict(),
  /** A file that could not be read or decoded: kept as an error row. */
  z.object({ name: z.string().min(1).max(512), error: z.string().min(1).max(500) }).strict(),
]);

/** Where an export goes: a file the user picks in the desktop app's save dialog, the answer itself, or <data dir>/exports. */
export const EXPORT_TARGETS = ['dialog', 'download', 'data-dir'] as const;

export interface CatalogExport {
  fileName: string;
  mimeType: string;
  rows: number;
  /** The file written ('dialog', 'data-dir'); null for 'download' or a cancelled dialog. */
  savedTo: string | null;
  /** The file's bytes for 'download', else null. */
  data: Uint8Array | null;
  cancelled: boolean;
}

/** Files the user chose in the desktop app's open dialog: only these paths are ever read. */
export interface CatalogPick {
  pickId: string;
  /** File names, in job order. */
  files: string[];
}

const createInput = z
  .object({
    name: z.string().max(200).default(''),
    template: z.union([z.string().regex(/^[a-z0-9-]{1,40}$/), catalogTemplateSchema]),
    /** Uploaded attachments (drop, paste, the web UI), or: */
    items: z.array(itemInput).min(1).max(20_000).optional(),
    /** files from catalog.pick. */
    pickId: z.string().regex(/^[a-f0-9-]{36}$/).optional(),
    /** Notes CSV (first column or a "file" column names the image). */
    notesCsv: z.string().max(10_000_000).optional(),
    /**
     * Items at once; 0: as many as the engine's slots allow with one left for a chat (catalogWorkers).
     * Default 1: a worker crash stops every item in flight, and "stopped twice" would blame bystanders.
     */
    concurrency: z.number().int().min(0).max(16).default(1),
  })
  .strict()
  .refine((v) => (v.items === undefined) !== (v.pickId === undefined), { message: 'Give either items or pickId', path: ['items'] });

export const catalogContract = {
  'catalog.templates': call<CatalogTemplate[]>()(z.object({}).strict()),
  /** Opens the desktop app's dialog for images or a folder; null when cancelled. Not available headless. */
  'catalog.pick': call<CatalogPick | null>()(z.object({ kind: z.enum(['files', 'folder']).default('files') }).strict()),
  /** Creates a job from uploaded attachments (and failed files) or a pick, then starts it. */
  'catalog.create': call<{ job: CatalogJobView; duplicates: string[] }>()(createInput),
  'catalog.list': call<CatalogJobView[]>()(z.object({}).strict()),
  'catalog.items': call<CatalogItemView[]>()(z.object({ jobId }).strict()),
  'catalog.updateItem': call<CatalogItemView>()(
    z.object({ itemId: z.number().int().min(1), field, value: z.string().max(20_000) }).strict(),
  ),
  'catalog.approve': call<CatalogItemView[]>()(z.object({ itemIds: z.array(z.number().int().min(1)).min(1).max(20_000), approved: z.boolean().default(true) }).strict()),
  /** Generates one item again (every field, or only `field`). */
  'catalog.regenerate': call<CatalogItemView>()(z.object({ itemId: z.number().int().min(1), field: field.optional() }).strict()),
  'catalog.pause': call<CatalogJobView>()(z.object({ jobId }).strict()),
  'catalog.resume': call<CatalogJobView>()(z.object({ jobId }).strict()),
  'catalog.cancel': call<CatalogJobView>()(z.object({ jobId }).strict()),
  'catalog.delete': call<{ deleted: boolean }>()(z.object({ jobId }).strict()),
  'catalog.export': call<CatalogExport>()(
    z
      .object({ jobId, format: z.enum(CATALOG_FORMATS), bom: z.boolean().default(false), approvedOnly: z.boolean().default(false), to: z.enum(EXPORT_TARGETS).default('download') })
      .strict(),
  ),
  /** Every job now, then every change (jobs and items). */
  'catalog.watch': stream<CatalogEvent>()(z.object({}).strict()),
} as const;
