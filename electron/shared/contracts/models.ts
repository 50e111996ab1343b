// Model manager: catalog, installed pairs, downloads with progress, imports, the active model.
import { z } from 'zod';
import { call, stream } from '../contract-kit';
import type { ErrorCode } from '../errors';

export type ModelFileRole = 'model' | 'mmproj';

export interface CatalogFile {
  role: ModelFileRole;
  fileName: string;
  /** Download address; null when no GGUF is published at a known address. */
  url: string | null;
  size: number | null;
  sha256: string | null;
}

export interface CatalogEntry {
  id: string;
  name: string;
  description: string;
  license: { name: string; url: string };
  /** The page the files come from (and where a gated license is accepted). */
  sourceUrl: string;
  /** false: file names, sizes or addresses were not checked against the source by us. */
  verified: boolean;
  /** Whether the files can be downloaded from the catalog at all. */
  downloadable: boolean;
  note: string;
  quantization: string;
  minMemoryBytes: number;
  /** Approximate sizes for the fit estimate before anything is downloaded. */
  estimate: { modelBytes: number; mmprojBytes: number; nLayer: number; nEmbd: number; nHead: number; nHeadKv: number; nVocab: number };
  files: CatalogFile[];
}

export interface FitDevice {
  name: string;
  /** 'cuda' | 'vulkan' | 'metal' | 'cpu' */
  backend: string;
  memoryBytes: number | null;
}

export interface FitReport {
  devices: FitDevice[];
  fit: 'full' | 'partial' | 'cpu';
  gpuLayers: number;
  totalLayers: number;
  visionOnGpu: boolean;
  estimatedBytes: number;
  nCtx: number;
  /** From the catalog's approximate sizes rather than the files' tensors. */
  approximate: boolean;
  /** "Fits on NVIDIA H100 (CUDA)", "Partly on GPU: 22 of 40 layers", "Runs on the CPU: no GPU found". */
  summary: string;
}

/** broken: the pair crashed the engine twice (at load or on its first answer) and is not loaded again. */
export type PairStatus = 'ready' | 'invalid' | 'incomplete' | 'missing' | 'broken';

export interface InstalledFile {
  role: ModelFileRole;
  fileName: string;
  path: string;
  /** Bytes on disk (the partial file while incomplete). */
  bytes: number;
  sha256: string | null;
  present: boolean;
  linked: 'copy' | 'hardlink' | 'symlink' | 'download';
}

export interface InstalledModel {
  id: string;
  name: string;
  source: string;
  files: InstalledFile[];
  status: PairStatus;
  /** What is wrong when not ready, in words a user can act on. */
  problem: string | null;
  diskBytes: number;
  active: boolean;
  addedAt: string;
  fit: FitReport | null;
}

/** A pair the engine runs that is not installed here: given with --model (firellava serve, or the app's flag). Never deletable. */
export interface CommandLineModel {
  name: string;
  /** The weights' type ("Q4_K_M"); null when the file does not say. */
  quantization: string | null;
  files: { role: ModelFileRole; fileName: string; path: string }[];
  state: 'loading' | 'ready' | 'error';
  /** The engine's own sentence: "Ready on CPU", or why it failed. */
  message: string;
}

export interface CatalogItem {
  entry: CatalogEntry;
  installed: boolean;
  fit: FitReport | null;
}

export type DownloadState = 'checking' | 'downloading' | 'paused' | 'verifying' | 'done' | 'error' | 'cancelled';

export interface TransferProgress {
  receivedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface DownloadJob {
  /** The installed model's id: one download per model at a time. */
  id: string;
  name: string;
  state: DownloadState;
  files: (TransferProgress & { role: ModelFileRole; fileName: string; done: boolean })[];
  /** The pair as a whole. */
  total: TransferProgress;
  error: { code: ErrorCode; reason: string; message: string; action: string | null } | null;
}

export type ModelsEvent =
  | { type: 'snapshot'; jobs: DownloadJob[] }
  | { type: 'job'; job: DownloadJob }
  /** The installed list changed: fetch models.list again. */
  | { type: 'installed' };

const id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'Not a model id');
const sha256 = z.string().regex(/^[a-fA-F0-9]{64}$/, 'sha256 must be 64 hex digits');
const httpUrl = z
  .string()
  .max(4096)
  .refine((s) => /^https?:\/\//i.test(s), 'Must be an http(s) URL');
const fileName = z
  .string()
  .min(1)
  .max(512)
  .refine((s) => !s.split('/').some((p) => p === '..' || p === ''), 'Not a file name in the repository');

export const pullRequestSchema = z.union([
  z.object({ catalogId: id }).strict(),
  z.object({ modelUrl: httpUrl, mmprojUrl: httpUrl, name: z.string().max(200).optional(), sha256Model: sha256.optional(), sha256Mmproj: sha256.optional() }).strict(),
  z
    .object({
      hfRepo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'A Hugging Face repo looks like owner/name'),
      modelFile: fileName,
      mmprojFile: fileName,
      revision: z.string().max(100).optional(),
      name: z.string().max(200).optional(),
      sha256Model: sha256.optional(),
      sha256Mmproj: sha256.optional(),
    })
    .strict(),
]);
export type PullRequest = z.infer<typeof pullRequestSchema>;

export const importRequestSchema = z
  .object({
    modelPath: z.string().min(1).max(4096),
    mmprojPath: z.string().min(1).max(4096),
    mode: z.enum(['copy', 'hardlink', 'symlink']).default('copy'),
    name: z.string().max(200).optional(),
  })
  .strict();
export type ImportRequest = z.infer<typeof importRequestSchema>;

const byId = z.object({ id }).strict();

export const modelsContract = {
  'models.catalog': call<CatalogItem[]>()(z.object({ nCtx: z.number().int().min(256).max(131_072).optional() }).strict()),
  'models.list': call<InstalledModel[]>()(z.object({ nCtx: z.number().int().min(256).max(131_072).optional() }).strict()),
  /** Starts (or resumes) a download after checking access and disk space; progress comes on models.watch. */
  'models.pull': call<DownloadJob>()(pullRequestSchema),
  'models.pause': call<DownloadJob>()(byId),
  'models.resume': call<DownloadJob>()(byId),
  /** Stops a download and removes its partial files. */
  'models.cancel': call<DownloadJob>()(byId),
  /** Validates a local pair, then copies or links it into the models folder. */
  'models.import': call<InstalledModel>()(importRequestSchema),
  'models.delete': call<{ id: string }>()(byId),
  /** Makes a ready pair the active one and loads it into the engine. */
  'models.setActive': call<InstalledModel>()(byId),
  /** The pair given on the command line, when that is what the engine runs (else null). */
  'models.commandLine': call<CommandLineModel | null>()(z.object({}).strict()),
  /** Emits a snapshot of the downloads, then every change. */
  'models.watch': stream<ModelsEvent>()(z.object({}).strict()),
  /** Whether a Hugging Face token is known; the token itself never leaves the backend. */
  'models.tokenStatus': call<HfTokenStatus>()(z.object({}).strict()),
  /** Saves the token in the OS keychain (desktop app), or removes it with null. */
  'models.setToken': call<HfTokenStatus>()(
    z.object({ token: z.string().trim().min(8, 'That is too short for a Hugging Face token').max(256).regex(/^\S+$/, 'A token has no spaces').nullable() }).strict(),
  ),
} as const;

export interface HfTokenStatus {
  /** Saved in the OS keychain by this app. */
  saved: boolean;
  /** HF_TOKEN or HUGGING_FACE_HUB_TOKEN is set (used when none is saved). */
  fromEnvironment: boolean;
  /** False in the headless server, which only reads the environment. */
  canSave: boolean;
}
