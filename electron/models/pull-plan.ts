// What a pull fetches: the id, name, source and the two files (address, expected size and
// checksum) for a catalog entry, a Hugging Face repo or two URLs, or an unfinished entry to resume.
import path from 'node:path';
import type { CatalogEntry, ModelFileRole, PullRequest } from '../shared/contracts/models';
import { hfFileUrl, hfRepoPage } from './hugging-face';
import { fileNameOf, pairFileNames, pairId, ROLES } from './model-files';
import { ModelManagerError } from './model-manager-error';
import type { RegistryEntry, RegistryFile } from './registry';

export interface FileSpec {
  role: ModelFileRole;
  fileName: string;
  url: string;
  size: number | null;
  sha256: string | null;
}

export interface PullPlan {
  id: string;
  name: string;
  source: string;
  licenseUrl: string | null;
  files: FileSpec[];
}

export function planPull(req: PullRequest, catalog: CatalogEntry[]): PullPlan {
  if ('catalogId' in req) {
    const entry = catalog.find((e) => e.id === req.catalogId);
    if (!entry) throw new ModelManagerError('NOT_FOUND', 'UNKNOWN_CATALOG_ID', `No catalog entry "${req.catalogId}"`);
    if (!entry.downloadable) {
      throw new ModelManagerError('NOT_FOUND', 'NOT_DOWNLOADABLE', `${entry.name} cannot be downloaded from the catalog: ${entry.note}`);
    }
    const files = ROLES.map((role) => {
      const f = entry.files.find((x) => x.role === role) as CatalogEntry['files'][number];
      return { role, fileName: f.fileName, url: f.url as string, size: f.size, sha256: f.sha256 };
    });
    return { id: entry.id, name: entry.name, source: `catalog:${entry.id}`, licenseUrl: entry.sourceUrl, files };
  }
  if ('hfRepo' in req) {
    const revision = req.revision ?? 'main';
    const modelUrl = hfFileUrl(req.hfRepo, req.modelFile, revision);
    const mmprojUrl = hfFileUrl(req.hfRepo, req.mmprojFile, revision);
    const base = path.posix.basename(req.modelFile);
    const names = pairFileNames(fileNameOf(modelUrl), fileNameOf(mmprojUrl));
    return {
      id: pairId(base, modelUrl, mmprojUrl),
      name: req.name ?? `${req.hfRepo} ${base}`,
      source: `hf:${req.hfRepo}`,
      licenseUrl: `https://huggingface.co/${req.hfRepo}`,
      files: [
        { role: 'model', fileName: names.model, url: modelUrl, size: null, sha256: req.sha256Model?.toLowerCase() ?? null },
        { role: 'mmproj', fileName: names.mmproj, url: mmprojUrl, size: null, sha256: req.sha256Mmproj?.toLowerCase() ?? null },
      ],
    };
  }
  const names = pairFileNames(fileNameOf(req.modelUrl), fileNameOf(req.mmprojUrl));
  return {
    id: pairId(names.model, req.modelUrl, req.mmprojUrl),
    name: req.name ?? names.model.replace(/\.gguf$/i, ''),
    source: 'url',
    licenseUrl: hfRepoPage(req.modelUrl),
    files: [
      { role: 'model', fileName: names.model, url: req.modelUrl, size: null, sha256: req.sha256Model?.toLowerCase() ?? null },
      { role: 'mmproj', fileName: names.mmproj, url: req.mmprojUrl, size: null, sha256: req.sha256Mmproj?.toLowerCase() ?? null },
    ],
  };
}

/** The plan of an unfinished download found in the registry (resume, also after a restart). */
export function planFromEntry(entry: RegistryEntry): PullPlan {
  const files: FileSpec[] = ROLES.map((role) => {
    const f = entry.files.find((x) => x.role === role) as RegistryFile;
    return { role, fileName: f.fileName, url: f.url as string, size: f.size, sha256: f.expectedSha256 };
  });
  return { id: entry.id, name: entry.name, source: entry.source, licenseUrl: entry.licenseUrl, files };
}

/** The registry entry a pull writes before its first byte. */
export function pendingEntry(plan: PullPlan, addedAt: string): RegistryEntry {
  return {
    id: plan.id,
    name: plan.name,
    source: plan.source,
    licenseUrl: plan.licenseUrl,
    complete: false,
    addedAt,
    files: plan.files.map((f): RegistryFile => ({ role: f.role, fileName: f.fileName, url: f.url, size: f.size, expectedSha256: f.sha256, sha256: null, linked: 'download' })),
  };
}
