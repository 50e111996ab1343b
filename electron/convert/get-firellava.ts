// "Get FireLLaVA": the official checkpoint from Hugging Face → GGUF pair → verified → installed.
// One pipeline for the app (get-firellava-job.ts) and `firellava convert --hf`:
// disk check up front, download (resumable), the same conversion job as `convert --from`, the
// model validator, then the model registry. Nothing looks finished before it is: downloads are
// .part files until verified, conversion outputs .partial until complete, and the registry entry
// is written only after the pair validates.
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { GgmlType, ggmlTypeInfo } from '../gguf/ggml-types';
import { DISK_MARGIN, systemFreeSpace, type FreeSpaceFn } from '../models/disk-space';
import { ModelManagerError, type ModelManager } from '../models/model-manager';
import { DownloadError, partPath, type RetryPolicy } from '../models/range-downloader';
import type { InstalledModel } from '../shared/contracts/models';
import { ActionableError } from '../shared/errors';
import { formatBytes } from '../shared/format';
import { DEFAULT_REPO, DEFAULT_REVISION, downloadCheckpoint, repoPage, type CheckpointFiles, type CheckpointSource } from './checkpoint-download';
import { QUANTS, type ConvertProgress, type Quant } from './convert-llava';
import { startConversion } from './convert-runner';
import { CheckpointError } from './safetensors';

export { DEFAULT_REPO, DEFAULT_REVISION };
export const HF_ORIGIN_DEFAULT = 'https://huggingface.co';
export const FIRELLAVA_LICENSE = 'Llama 2 Community License';

/** The steps a user sees. Conversion and quantization are one streaming pass over the tensors. */
export type GetPhase = 'download' | 'convert' | 'verify' | 'ready';

export interface GetProgress {
  phase: GetPhase;
  /** The file being downloaded, or 'model' / 'mmproj' while converting. */
  file: string | null;
  bytesDone: number;
  bytesTotal: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

/** A failure with a stable code, what went wrong and what to do about it. */
export class GetFireLlavaError extends ActionableError {}

export interface GetTarget {
  /** Install into this model manager (the app, `convert --hf --data-dir`). */
  manager?: ModelManager;
  /** Make the installed pair the active one. */
  activate?: boolean;
  /** Or just write the pair into this folder (`convert --hf --out`). */
  outDir?: string;
}

export interface GetFireLlavaOptions extends GetTarget {
  quant: string;
  repo?: string;
  revision?: string;
  /** Hugging Face origin; tests point it at a loopback server. */
  origin?: string;
  token: string | null;
  /** Where the checkpoint is downloaded (kept between runs so a restart resumes). */
  checkpointDir: string;
  /** Delete the downloaded checkpoint files once the pair is installed. */
  deleteCheckpoint: boolean;
  /** dist/convert/convert-worker.cjs; without it the conversion runs on this thread. */
  workerEntry?: string;
  freeSpace?: FreeSpaceFn;
  signal?: AbortSignal;
  onProgress?: (p: GetProgress) => void;
  retry?: Partial<RetryPolicy>;
  progressIntervalMs?: number;
  /** fsync downloads and outputs before their final rename (default true). */
  sync?: boolean;
}

export interface GetFireLlavaResult {
  model: string;
  mmproj: string;
  modelBytes: number;
  mmprojBytes: number;
  installed: InstalledModel | null;
  checkpointDeleted: boolean;
  downloadBytes: number;
  seconds: number;
}

export function isQuant(q: string): q is Quant {
  return (QUANTS as readonly string[]).includes(q);
}

/** Approximate bits per weight of a quant name, from ggml's block sizes (q4_k_m → Q4_K). */
function bitsPerWeight(quant: string): number {
  const name = quant.toUpperCase();
  const key = (Object.keys(GgmlType) as (keyof typeof GgmlType)[]).find((k) => k === name) ?? (Object.keys(GgmlType) as (keyof typeof GgmlType)[]).find((k) => name.startsWith(`${k}_`));
  const info = key ? ggmlTypeInfo(GgmlType[key]) : undefined;
  // Unknown: assume F16, which overestimates every 4/8-bit type.
  return info ? (8 * info.bytesPerBlock) / info.blockSize : 16;
}

/** Two GGUF headers (vocabulary, metadata), as the converter's own estimate allows. */
const HEADERS_BYTES = 2 * 4 * 1024 * 1024;

/**
 * Output size before the checkpoint is here: its weights (2 bytes each in BF16/F16) at the
 * quant's bits per weight, plus 5% of the source for what stays wider (the F16 projector,
 * the 8-bit head, k-quant mixes), plus the headers.
 */
export function estimateOutputBytes(sourceBytes: number, quant: string): number {
  return Math.ceil((sourceBytes / 2) * (bitsPerWeight(quant) / 8) + sourceBytes * 0.05) + HEADERS_BYTES;
}

/** Id of the installed pair: fireworks-ai/FireLLaVA-13b, q4_0 → firellava-13b-q4_0. */
export function installedId(repo: string, quant: string, revision = DEFAULT_REVISION): string {
  const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  const name = slug(repo.split('/').pop() ?? 'model').slice(0, 60) || 'model';
  return revision === DEFAULT_REVISION ? `${name}-${quant}` : `${name}-${quant}-${slug(revision).slice(0, 40)}`;
}

/** <dataDir>/checkpoints/<owner>/<name> (the revision is recorded inside). */
export function checkpointDirFor(dataDir: string, repo: string): string {
  return join(dataDir, 'checkpoints', ...repo.split('/'));
}

async function nearestExisting(dir: string): Promise<string> {
  let p = resolve(dir);
  for (;;) {
    try {
      await stat(p);
      return p;
    } catch {
      if (dirname(p) === p) return p;
      p = dirname(p);
    }
  }
}

export interface DiskNeed {
  downloadBytes: number;
  outputBytes: number;
  /** Free bytes where the checkpoint goes (and the output, when on the same drive). */
  freeBytes: number | null;
  /** null: enough. Else what to tell the user. */
  problem: string | null;
}

/** Download + output + 10%, on one drive or checked per drive. */
export async function checkGetDisk(checkpointDir: string, outDir: string, downloadBytes: number, outputBytes: number, freeSpace: FreeSpaceFn = systemFreeSpace): Promise<DiskNeed> {
  const a = await nearestExisting(checkpointDir);
  const b = await nearestExisting(outDir);
  const [da, db] = await Promise.all([stat(a), stat(b)]);
  const free = async (p: string): Promise<number | null> => freeSpace(p).catch(() => null);
  const margin = (n: number): number => Math.ceil(n * (1 + DISK_MARGIN));
  const what = `download ${formatBytes(downloadBytes)} + output ${formatBytes(outputBytes)} + 10%`;
  const fix = 'Free some space or choose another data folder.';
  if (da.dev === db.dev) {
    const f = await free(a);
    const need = margin(downloadBytes + outputBytes);
    const problem = f !== null && f < need ? `Not enough disk space: Get FireLLaVA needs about ${formatBytes(need)} (${what}) but only ${formatBytes(f)} is free in ${a}. ${fix}` : null;
    return { downloadBytes, outputBytes, freeBytes: f, problem };
  }
  const [fa, fb] = await Promise.all([free(a), free(b)]);
  let problem: string | null = null;
  if (fa !== null && fa < margin(downloadBytes)) problem = `Not enough disk space for the download: ${formatBytes(margin(downloadBytes))} needed in ${a}, ${formatBytes(fa)} free. ${fix}`;
  else if (fb !== null && fb < margin(outputBytes)) problem = `Not enough disk space for the converted model: ${formatBytes(margin(outputBytes))} needed in ${b}, ${formatBytes(fb)} free. ${fix}`;
  return { downloadBytes, outputBytes, freeBytes: fa, problem };
}

/** Any failure of the pipeline as a GetFireLlavaError with the action to take. */
export function toGetError(err: unknown, src?: CheckpointSource): GetFireLlavaError {
  if (err instanceof GetFireLlavaError) return err;
  const page = src ? repoPage(src) : 'the model page on Hugging Face';
  if (err instanceof DownloadError) {
    switch (err.code) {
      case 'GATED':
        return new GetFireLlavaError('FORBIDDEN', 'GATED', err.message, `Open ${page}, accept the license, create a read token at huggingface.co/settings/tokens and add it here (headless: set HF_TOKEN), then start again.`);
      case 'NOT_FOUND':
        return new GetFireLlavaError('NOT_FOUND', 'NOT_FOUND', err.message, 'Check the repository name and revision.');
      case 'NETWORK':
      case 'HTTP':
        return new GetFireLlavaError('INTERNAL', err.code, err.message, 'Check the connection and start again: the bytes downloaded so far are kept.');
      case 'SIZE_MISMATCH':
      case 'CHECKSUM_MISMATCH':
        return new GetFireLlavaError('MODEL_INVALID', err.code, err.message, 'Start again to download that file anew.');
      case 'ABORTED':
        return new GetFireLlavaError('CANCELLED', 'CANCELLED', 'Stopped.', 'Start again to resume: the bytes downloaded so far are kept.');
    }
  }
  if (err instanceof CheckpointError) {
    switch (err.code) {
      case 'CANCELLED':
        return new GetFireLlavaError('CANCELLED', 'CANCELLED', 'Stopped; the partly converted files were deleted.', 'Start again: the downloaded checkpoint is kept.');
      case 'NO_SPACE':
        return new GetFireLlavaError('INVALID_INPUT', 'NO_SPACE', err.message, 'Free some space or choose another data folder.');
      case 'MISSING_SHARD':
        return new GetFireLlavaError('NOT_FOUND', 'MISSING_SHARD', err.message, 'The repository is incomplete at this revision: try another revision.');
      default:
        return new GetFireLlavaError('MODEL_INVALID', err.code, err.message, 'This repository is not a LLaVA-1.5 checkpoint the converter understands.');
    }
  }
  if (err instanceof ModelManagerError) return new GetFireLlavaError(err.code, err.reason, err.message, err.action);
  return new GetFireLlavaError('INTERNAL', 'INTERNAL', err instanceof Error ? err.message : String(err));
}

/** Bytes per second over the last few seconds, for the conversion phase. */
function rateMeter(): (bytes: number) => number {
  const samples: { t: number; b: number }[] = [];
  return (bytes) => {
    const t = Date.now();
    samples.push({ t, b: bytes });
    while (samples.length > 2 && t - (samples[0] as { t: number }).t > 5000) samples.shift();
    const first = samples[0] as { t: number; b: number };
    return t > first.t ? ((bytes - first.b) * 1000) / (t - first.t) : 0;
  };
}

/** Removes what the download wrote (and only that), then the folders it leaves empty. */
export async function deleteCheckpointFiles(dir: string, files: { path: string }[]): Promise<void> {
  for (const f of files) {
    const p = join(dir, f.path);
    await Promise.all([rm(p, { force: true }), rm(partPath(p), { force: true }), rm(`${partPath(p)}.json`, { force: true })]);
  }
  await rm(join(dir, '.download.json'), { force: true });
  // The folder if empty, and its empty parents up to a "checkpoints" folder (the default layout
  // <dataDir>/checkpoints/<owner>/<name>); never a folder with anything else in it.
  const stopAt = [dir, dirname(dir), dirname(dirname(dir))].find((d) => basename(d) === 'checkpoints');
  for (let d = dir; ; d = dirname(d)) {
    if ((await readdir(d).catch(() => ['?'])).length > 0) break;
    await rmdir(d).catch(() => undefined);
    if (!stopAt || d === stopAt) break;
  }
}

export async function getFireLlava(o: GetFireLlavaOptions): Promise<GetFireLlavaResult> {
  const started = performance.now();
  const src: CheckpointSource = { repo: o.repo ?? DEFAULT_REPO, revision: o.revision ?? DEFAULT_REVISION, origin: (o.origin ?? HF_ORIGIN_DEFAULT).replace(/\/+$/, '') };
  const quant = o.quant;
  const emit = (p: GetProgress): void => o.onProgress?.(p);
  const stopped = (): void => {
    if (o.signal?.aborted) throw new GetFireLlavaError('CANCELLED', 'CANCELLED', 'Stopped.', 'Start again to resume: the bytes downloaded so far are kept.');
  };
  try {
    if (!isQuant(quant)) throw new GetFireLlavaError('INVALID_INPUT', 'BAD_QUANT', `Unknown quantization "${quant}": choose one of ${QUANTS.join(', ')}`);
    if (!o.manager && !o.outDir) throw new GetFireLlavaError('INVALID_INPUT', 'NO_TARGET', 'Nowhere to put the converted model');
    const id = installedId(src.repo, quant, src.revision);
    if (o.manager) {
      const prior = await o.manager.registry.get(id);
      if (prior?.complete) {
        throw new GetFireLlavaError('INVALID_INPUT', 'ALREADY_INSTALLED', `${prior.name} is already installed as "${id}".`, 'Use it from the installed list, or delete it there to convert again.');
      }
      // This pipeline registers only finished pairs: an unfinished entry is someone else's.
      if (prior) throw new GetFireLlavaError('INVALID_INPUT', 'ID_IN_USE', `The installed list already has an unfinished "${id}".`, 'Delete it there, then start again.');
    }
    const outDir = o.manager ? o.manager.registry.dirOf(id) : resolve(o.outDir as string);
    const freeSpace = o.freeSpace ?? (o.manager ? (dir: string) => (o.manager as ModelManager).freeBytes(dir) : systemFreeSpace);
    stopped();

    // ---- download
    emit({ phase: 'download', file: null, bytesDone: 0, bytesTotal: null, bytesPerSecond: 0, etaSeconds: null });
    let plan: CheckpointFiles | null = null;
    const checkSpace = async (p: CheckpointFiles, have: number): Promise<void> => {
      const source = p.files.filter((f) => /\.safetensors$/.test(f.path)).reduce((s, f) => s + f.size, 0);
      const need = await checkGetDisk(o.checkpointDir, outDir, Math.max(0, p.totalBytes - have), estimateOutputBytes(source, quant), freeSpace);
      if (need.problem) throw new GetFireLlavaError('INVALID_INPUT', 'NO_SPACE', need.problem, 'Free some space or choose another data folder.');
    };
    plan = await downloadCheckpoint(src, o.checkpointDir, {
      token: o.token,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.retry ? { retry: o.retry } : {}),
      ...(o.progressIntervalMs !== undefined ? { progressIntervalMs: o.progressIntervalMs } : {}),
      ...(o.sync === false ? { fsync: false } : {}),
      onPlan: checkSpace,
      onProgress: (p) =>
        emit({
          phase: 'download',
          file: p.file || null,
          bytesDone: p.bytesDone,
          bytesTotal: p.bytesTotal,
          bytesPerSecond: p.bytesPerSecond,
          etaSeconds: p.bytesPerSecond > 0 ? (p.bytesTotal - p.bytesDone) / p.bytesPerSecond : null,
        }),
    });
    stopped();

    // ---- convert (+ quantize, one pass) and verify
    // Nothing in this model's folder is registered yet: leftovers of a crashed run go.
    if (o.manager) await rm(outDir, { recursive: true, force: true });
    const rate = rateMeter();
    const onConvert = (p: ConvertProgress): void => {
      if (p.phase === 'verify' || p.phase === 'ready') {
        emit({ phase: 'verify', file: null, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: 0, etaSeconds: null });
        return;
      }
      const speed = rate(p.bytesDone);
      emit({ phase: 'convert', file: p.file ?? null, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: speed, etaSeconds: speed > 0 ? (p.bytesTotal - p.bytesDone) / speed : null });
    };
    const job = startConversion({ from: o.checkpointDir, outDir, quant, sync: o.sync ?? true }, { ...(o.workerEntry ? { workerEntry: o.workerEntry } : {}), onProgress: onConvert });
    const onAbort = (): void => job.cancel();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) job.cancel();
    let converted;
    try {
      converted = await job.done;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }

    let installed: InstalledModel | null = null;
    if (o.manager) {
      emit({ phase: 'verify', file: null, bytesDone: 0, bytesTotal: null, bytesPerSecond: 0, etaSeconds: null });
      const name = `${src.repo.split('/').pop() ?? src.repo} ${quant.toUpperCase()}`;
      installed = await o.manager.installConverted({
        id,
        name,
        source: `convert:hf:${src.repo}@${src.revision}`,
        licenseUrl: repoPage(src),
        modelFile: basename(converted.model),
        mmprojFile: basename(converted.mmproj),
        activate: o.activate ?? false,
      });
    }
    let checkpointDeleted = false;
    if (o.deleteCheckpoint) {
      await deleteCheckpointFiles(o.checkpointDir, plan.files);
      checkpointDeleted = true;
    }
    emit({ phase: 'ready', file: null, bytesDone: converted.inputBytes, bytesTotal: converted.inputBytes, bytesPerSecond: 0, etaSeconds: 0 });
    return {
      model: converted.model,
      mmproj: converted.mmproj,
      modelBytes: converted.modelBytes,
      mmprojBytes: converted.mmprojBytes,
      installed,
      checkpointDeleted,
      downloadBytes: plan.totalBytes,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    const e = toGetError(err, src);
    // After cancel(), whatever broke first (a socket, the worker) reads as the stop it was.
    if (o.signal?.aborted && e.code !== 'CANCELLED') throw toGetError(new DownloadError('ABORTED', 'Stopped'), src);
    throw e;
  }
}
