// Downloads a Hugging Face transformers checkpoint (the files the converter reads) into a folder
// with the model manager's Range downloader: resume after a crash from <file>.part, retries,
// sha256 from Hugging Face's LFS metadata, the token sent to the Hugging Face origin only.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HF_ORIGIN, hfFileUrl } from '../models/hugging-face';
import { abortError } from '../models/download-error';
import { USER_AGENT } from '../models/http-range';
import { DownloadError, downloadFile, partialBytes, probeRemote, type RetryPolicy } from '../models/range-downloader';
import { CheckpointError, INDEX_FILE, SINGLE_FILE } from './safetensors';

export const DEFAULT_REPO = 'fireworks-ai/FireLLaVA-13b';
export const DEFAULT_REVISION = 'main';

export interface CheckpointSource {
  repo: string;
  revision: string;
  /** https://huggingface.co, or a loopback server in tests. */
  origin: string;
}

export interface RemoteFile {
  path: string;
  size: number;
  /** LFS files: Hugging Face's sha256 of the content; null for small git files. */
  sha256: string | null;
}

/** Read by the converter; the first two are required, the rest used when present. */
const REQUIRED = ['config.json', 'tokenizer.model'];
const OPTIONAL = ['preprocessor_config.json', 'added_tokens.json', 'tokenizer_config.json'];

const MANIFEST = '.download.json';

export const repoPage = (src: CheckpointSource): string => `${src.origin}/${src.repo}`;

export function fileUrl(src: CheckpointSource, file: string): string {
  return src.origin + hfFileUrl(src.repo, file, src.revision).slice(HF_ORIGIN.length);
}

/** The token goes to the Hugging Face origin only (the downloader drops it on redirects to the CDN). */
export function authFor(src: CheckpointSource, url: string, token: string | null): Record<string, string> {
  return token && new URL(url).origin === new URL(src.origin).origin ? { authorization: `Bearer ${token}` } : {};
}

function gated(src: CheckpointSource, status: number, token: string | null): DownloadError {
  const what = token ? 'The Hugging Face token was refused' : 'No Hugging Face token is set';
  return new DownloadError(
    'GATED',
    `Access denied (${status}) to ${src.repo}: ${what}. Accept the Llama 2 Community License at ${repoPage(src)} while signed in, then use a read token of that account.`,
    status,
  );
}

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  lfs?: { oid?: string; sha256?: string; size?: number };
}

/** Every file of the repo at the revision, from Hugging Face's tree API (public even for gated repos). */
export async function listRepoFiles(src: CheckpointSource, token: string | null, signal?: AbortSignal): Promise<RemoteFile[]> {
  const rev = encodeURIComponent(src.revision);
  let url: string | null = `${src.origin}/api/models/${src.repo}/tree/${rev}?recursive=true`;
  const out: RemoteFile[] = [];
  while (url) {
    let res: Response;
    try {
      res = await fetch(url, { headers: { 'user-agent': USER_AGENT, ...authFor(src, url, token) }, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) throw abortError();
      throw new DownloadError('NETWORK', `Cannot reach ${src.origin} to list ${src.repo}: ${(err as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) throw gated(src, res.status, token);
    if (res.status === 404) throw new DownloadError('NOT_FOUND', `${src.repo} at revision "${src.revision}" was not found on ${src.origin}`, 404);
    if (!res.ok) throw new DownloadError('HTTP', `${src.origin} answered ${res.status} when listing ${src.repo}`, res.status);
    let entries: TreeEntry[];
    try {
      entries = (await res.json()) as TreeEntry[];
    } catch {
      throw new DownloadError('HTTP', `${src.origin} sent a file list for ${src.repo} that is not JSON`);
    }
    if (!Array.isArray(entries)) throw new DownloadError('HTTP', `${src.origin} sent a file list for ${src.repo} that is not a list`);
    for (const e of entries) {
      if (e.type !== 'file' || typeof e.path !== 'string' || typeof e.size !== 'number') continue;
      const sha = e.lfs?.sha256 ?? e.lfs?.oid ?? null;
      out.push({ path: e.path, size: e.lfs?.size ?? e.size, sha256: typeof sha === 'string' && /^[a-f0-9]{64}$/.test(sha) ? sha : null });
    }
    // Large repos are paginated: Link: <next>; rel="next".
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    url = next ? new URL(next, src.origin).toString() : null;
  }
  return out;
}

export interface CheckpointFiles {
  /** What will be downloaded, in order: small files first (a gated repo fails at once). */
  files: RemoteFile[];
  /** Sum of their sizes. */
  totalBytes: number;
  /** False when the shard list is a guess from the listing (the index is not downloaded yet). */
  exact: boolean;
}

/** The converter's files out of a repo listing; shards from the index when it is known. */
export function selectFiles(src: CheckpointSource, listing: RemoteFile[], index: { weight_map?: Record<string, string> } | null): CheckpointFiles {
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const missing = REQUIRED.filter((p) => !byPath.has(p));
  if (missing.length) throw new CheckpointError(`${src.repo} has no ${missing.join(' or ')}: it is not a LLaVA checkpoint in transformers layout`, 'NOT_LLAVA');
  const small = [...REQUIRED, ...OPTIONAL].flatMap((p) => byPath.get(p) ?? []);
  let shards: RemoteFile[];
  let exact = true;
  if (byPath.has(INDEX_FILE)) {
    small.push(byPath.get(INDEX_FILE) as RemoteFile);
    if (index) {
      if (!index.weight_map || typeof index.weight_map !== 'object') throw new CheckpointError(`${INDEX_FILE} of ${src.repo} has no weight_map`, 'BAD_FILE');
      const names = [...new Set(Object.values(index.weight_map))].sort();
      const absent = names.filter((n) => !byPath.has(n));
      if (absent.length) {
        throw new CheckpointError(`${src.repo} lists shard${absent.length > 1 ? 's' : ''} ${absent.join(', ')} in its ${INDEX_FILE}, but the repository does not have ${absent.length > 1 ? 'them' : 'it'}`, 'MISSING_SHARD');
      }
      shards = names.map((n) => byPath.get(n) as RemoteFile);
    } else {
      exact = false;
      shards = listing.filter((f) => /\.safetensors$/.test(f.path) && !f.path.includes('/'));
    }
  } else if (byPath.has(SINGLE_FILE)) {
    shards = [byPath.get(SINGLE_FILE) as RemoteFile];
  } else {
    throw new CheckpointError(`${src.repo} has no ${INDEX_FILE} or ${SINGLE_FILE}`, 'NOT_LLAVA');
  }
  const files = [...small, ...shards];
  return { files, totalBytes: files.reduce((s, f) => s + f.size, 0), exact };
}

type Manifest = { repo: string; revision: string; files: Record<string, { size: number; sha256: string }> };

async function readManifest(dir: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

async function writeManifest(dir: string, m: Manifest): Promise<void> {
  const tmp = join(dir, `${MANIFEST}.tmp`);
  await writeFile(tmp, JSON.stringify(m, null, 2));
  await rename(tmp, join(dir, MANIFEST));
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Bytes of `files` already on disk in `dir` (finished files and .part prefixes). */
export async function bytesOnDisk(dir: string, files: RemoteFile[]): Promise<number> {
  let n = 0;
  for (const f of files) {
    const full = await stat(join(dir, f.path)).then((s) => s.size, () => null);
    n += full === f.size ? full : Math.min(f.size, await partialBytes(join(dir, f.path)));
  }
  return n;
}

export interface CheckpointProgress {
  file: string;
  /** All files together. */
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
}

export interface DownloadCheckpointOptions {
  token: string | null;
  signal?: AbortSignal;
  onProgress?: (p: CheckpointProgress) => void;
  /** Called once the exact file list is known, before the big files start. */
  onPlan?: (plan: CheckpointFiles, haveBytes: number) => Promise<void> | void;
  retry?: Partial<RetryPolicy>;
  progressIntervalMs?: number;
  fsync?: boolean;
}

/**
 * Downloads the converter's files of `src` into `dir`. A file that is already there with the
 * listed size (and the listed sha256, as recorded when it was downloaded) is kept; an unfinished
 * one resumes from its .part. Resolves with the exact file list.
 */
export async function downloadCheckpoint(src: CheckpointSource, dir: string, opts: DownloadCheckpointOptions): Promise<CheckpointFiles> {
  const { token, signal } = opts;
  const listing = await listRepoFiles(src, token, signal);
  // Fail fast on a gated repo: a one-byte request before anything is written.
  const first = fileUrl(src, REQUIRED[0] as string);
  try {
    await probeRemote({ url: first, headers: authFor(src, first, token) }, { ...(signal ? { signal } : {}), ...(opts.retry ? { retry: opts.retry } : {}) });
  } catch (err) {
    if (err instanceof DownloadError && err.code === 'GATED') throw gated(src, err.status ?? 403, token);
    throw err;
  }
  let manifest = await readManifest(dir);
  if (!manifest || manifest.repo !== src.repo || manifest.revision !== src.revision) manifest = { repo: src.repo, revision: src.revision, files: {} };

  const fetchOne = async (f: RemoteFile, base: number, total: number): Promise<void> => {
    const dest = join(dir, f.path);
    const have = await stat(dest).then((s) => s.size, () => null);
    if (have === f.size) {
      const known = manifest.files[f.path]?.sha256;
      if (!f.sha256 || known === f.sha256 || (!known && (await sha256Of(dest)) === f.sha256)) return;
    }
    const url = fileUrl(src, f.path);
    try {
      const r = await downloadFile(
        { url, dest, size: f.size, sha256: f.sha256, headers: authFor(src, url, token), licenseUrl: repoPage(src) },
        {
          ...(signal ? { signal } : {}),
          ...(opts.retry ? { retry: opts.retry } : {}),
          ...(opts.fsync !== undefined ? { fsync: opts.fsync } : {}),
          ...(opts.progressIntervalMs !== undefined ? { progressIntervalMs: opts.progressIntervalMs } : {}),
          onProgress: (p) => opts.onProgress?.({ file: f.path, bytesDone: base + p.receivedBytes, bytesTotal: total, bytesPerSecond: p.bytesPerSecond }),
        },
      );
      manifest.files[f.path] = { size: r.size, sha256: r.sha256 };
      await writeManifest(dir, manifest);
    } catch (err) {
      if (err instanceof DownloadError && err.code === 'GATED') throw gated(src, err.status ?? 403, token);
      throw err;
    }
  };

  // Small files first: the index says which shards there are.
  let plan = selectFiles(src, listing, null);
  const small = plan.files.filter((f) => !/\.safetensors$/.test(f.path));
  let base = 0;
  for (const f of small) {
    await fetchOne(f, base, plan.totalBytes);
    base += f.size;
  }
  if (listing.some((f) => f.path === INDEX_FILE)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(await readFile(join(dir, INDEX_FILE), 'utf8')) as typeof index;
    } catch {
      throw new CheckpointError(`${INDEX_FILE} of ${src.repo} is not valid JSON`, 'BAD_FILE');
    }
    plan = selectFiles(src, listing, index);
  }
  await opts.onPlan?.(plan, await bytesOnDisk(dir, plan.files));
  for (const f of plan.files.filter((x) => !small.includes(x) && /\.safetensors$/.test(x.path))) {
    await fetchOne(f, base, plan.totalBytes);
    base += f.size;
  }
  opts.onProgress?.({ file: '', bytesDone: plan.totalBytes, bytesTotal: plan.totalBytes, bytesPerSecond: 0 });
  return plan;
}
