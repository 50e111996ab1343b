// The catalog of installable models (resources/catalog.json), checked on load so a bad edit
// fails loudly instead of offering a broken entry.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { CatalogEntry } from '../shared/contracts/models';

const fileSchema = z
  .object({
    role: z.enum(['model', 'mmproj']),
    fileName: z.string().regex(/^[\w.-]+\.gguf$/),
    url: z.string().regex(/^https:\/\//).nullable(),
    size: z.number().int().positive().nullable(),
    sha256: z.string().regex(/^[a-f0-9]{64}$/).nullable(),
  })
  .strict();

const entrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
    name: z.string().min(1),
    description: z.string(),
    license: z.object({ name: z.string().min(1), url: z.string().url() }).strict(),
    sourceUrl: z.string().url(),
    verified: z.boolean(),
    downloadable: z.boolean(),
    note: z.string(),
    quantization: z.string(),
    minMemoryBytes: z.number().int().positive(),
    estimate: z
      .object({
        modelBytes: z.number().positive(),
        mmprojBytes: z.number().positive(),
        nLayer: z.number().int().positive(),
        nEmbd: z.number().int().positive(),
        nHead: z.number().int().positive(),
        nHeadKv: z.number().int().positive(),
        nVocab: z.number().int().positive(),
      })
      .strict(),
    files: z.array(fileSchema),
  })
  .strict()
  .superRefine((e, ctx) => {
    const roles = e.files.map((f) => f.role).sort().join(',');
    if (roles !== 'mmproj,model') ctx.addIssue({ code: 'custom', message: `${e.id}: needs exactly one model and one mmproj file` });
    if (e.downloadable && e.files.some((f) => f.url === null)) ctx.addIssue({ code: 'custom', message: `${e.id}: downloadable but a file has no URL` });
  });

const catalogSchema = z.object({ version: z.literal(1), note: z.string().optional(), models: z.array(entrySchema).min(1) }).strict();

export function parseCatalog(json: unknown): CatalogEntry[] {
  return catalogSchema.parse(json).models;
}

/** resources/catalog.json next to the bundle (dist/<x>/ → ../../resources) or in the checkout. */
export function defaultCatalogPath(): string {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  const candidates = [
    path.join(here, '..', '..', 'resources', 'catalog.json'),
    path.join(here, '..', 'resources', 'catalog.json'),
    path.join(process.cwd(), 'resources', 'catalog.json'),
  ];
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  if (resourcesPath) candidates.unshift(path.join(resourcesPath, 'catalog.json'));
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

export async function loadCatalog(file = defaultCatalogPath()): Promise<CatalogEntry[]> {
  return parseCatalog(JSON.parse(await readFile(file, 'utf8')));
}
