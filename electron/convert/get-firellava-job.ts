// The "Get FireLLaVA" job behind the app's convert.* calls: the plan (sizes, license, token), one
// job at a time through the same pipeline as `firellava convert --hf` (get-firellava.ts), its
// events and cancel. The backend handlers only map the contract onto this.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../engine/engine';
import { DISK_MARGIN } from '../models/disk-space';
import { hfTokenFrom } from '../models/hugging-face';
import type { ModelManager } from '../models/model-manager';
import type { ConversionError, ConversionEvent, ConversionJob, ConversionPlan } from '../shared/contracts/conversion';
import { AppErrorException } from '../shared/errors';
import { bytesOnDisk, listRepoFiles, repoPage, selectFiles, type CheckpointSource } from './checkpoint-download';
import { QUANTS } from './convert-llava';
import {
  DEFAULT_REPO,
  DEFAULT_REVISION,
  FIRELLAVA_LICENSE,
  HF_ORIGIN_DEFAULT,
  checkpointDirFor,
  estimateOutputBytes,
  getFireLlava,
  installedId,
  isQuant,
  toGetError,
} from './get-firellava';
import { INDEX_FILE } from './safetensors';

/**
 * FIRELLAVA_HF_ORIGIN points "Get FireLLaVA" at a Hugging Face stand-in for tests. Only loopback
 * addresses are honoured, so it can never send the token anywhere else.
 */
export function hfOriginFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.FIRELLAVA_HF_ORIGIN?.trim();
  if (!v) return HF_ORIGIN_DEFAULT;
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return u.origin;
  } catch {
    // fall through
  }
  throw new Error(`FIRELLAVA_HF_ORIGIN must be an http://127.0.0.1:PORT (or localhost) address for tests, got "${v}"`);
}

/** The bundled conversion worker next to this bundle (dist/convert); absent when run from sources. */
function workerEntry(): string | undefined {
  const p = path.join(typeof __dirname === 'string' ? __dirname : '.', '..', 'convert', 'convert-worker.cjs');
  return existsSync(p) ? p : undefined;
}

/** The quant the UI preselects: the k-quant users expect when the converter has it, else Q4_0. */
export function recommendedQuant(): string {
  const qs = QUANTS as readonly string[];
  return qs.includes('q4_k_m') ? 'q4_k_m' : qs.includes('q4_0') ? 'q4_0' : (qs[qs.length - 1] as string);
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? await dirBytes(p) : await stat(p).then((s) => s.size, () => 0);
  }
  return n;
}

function fail(e: ConversionError): never {
  throw new AppErrorException({ code: e.code, message: e.action ? `${e.message} ${e.action}` : e.message });
}

/** Which checkpoint: the official one unless a repo (and revision) is named. */
export interface GetWhere {
  repo?: string | undefined;
  revision?: string | undefined;
}

export interface GetStart extends GetWhere {
  quant: string;
  deleteCheckpoint: boolean;
  activate: boolean;
}

export interface GetFireLlavaJobOptions {
  /** Loads the new pair when the job activates it. */
  engine: Pick<Engine, 'load'>;
  models: ModelManager;
  /** The app's data folder; checkpoints download below it. */
  dataDir: string;
  /** The keychain holding the Hugging Face token; absent headless (the plan says it cannot be saved). */
  tokenStore?: { read(): Promise<string | null> } | undefined;
  /** Hugging Face origin; FIRELLAVA_HF_ORIGIN (loopback only) by default. */
  origin?: string;
}

/** One "Get FireLLaVA" job at a time, its plan and its events. */
export class GetFireLlavaJob {
  private readonly listeners = new Set<(e: ConversionEvent) => void>();
  private current: { view: ConversionJob; ac: AbortController; done: Promise<void> } | null = null;
  private readonly origin: string;

  constructor(private readonly options: GetFireLlavaJobOptions) {
    this.origin = options.origin ?? hfOriginFromEnv();
  }

  /** The current job (a copy), or null before the first start. */
  snapshot(): ConversionJob | null {
    return this.current ? structuredClone(this.current.view) : null;
  }

  onEvent(listener: (e: ConversionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the running job and waits for it (Backend.close). */
  async close(): Promise<void> {
    this.current?.ac.abort();
    await this.current?.done;
  }

  private publish(): void {
    const job = this.snapshot();
    for (const l of this.listeners) l({ type: 'job', job });
  }

  private source(repo?: string, revision?: string): CheckpointSource {
    return { repo: repo ?? DEFAULT_REPO, revision: revision ?? DEFAULT_REVISION, origin: this.origin };
  }

  private running(): boolean {
    return this.current?.view.state === 'running';
  }

  async plan({ repo, revision }: GetWhere): Promise<ConversionPlan> {
    const src = this.source(repo, revision);
    const ckDir = checkpointDirFor(this.options.dataDir, src.repo);
    const token = await this.options.models.hfToken();
    const saved = this.options.tokenStore ? (await this.options.tokenStore.read().catch(() => null)) !== null : false;
    let download: ConversionPlan['download'] = null;
    let listError: ConversionError | null = null;
    let sourceBytes: number | null = null;
    try {
      const listing = await listRepoFiles(src, token);
      // The index from an earlier, unfinished run makes the shard list exact.
      const index = await readFile(path.join(ckDir, INDEX_FILE), 'utf8').then((t) => JSON.parse(t) as { weight_map?: Record<string, string> }, () => null);
      const files = selectFiles(src, listing, index);
      download = { totalBytes: files.totalBytes, haveBytes: await bytesOnDisk(ckDir, files.files), files: files.files.length };
      sourceBytes = files.files.filter((f) => f.path.endsWith('.safetensors')).reduce((s, f) => s + f.size, 0);
    } catch (err) {
      const e = toGetError(err, src);
      listError = { code: e.code, reason: e.reason, message: e.message, action: e.action };
    }
    const registry = await this.options.models.registry.read();
    const recommended = recommendedQuant();
    let probe = this.options.dataDir;
    while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
    const freeBytes = await this.options.models.freeBytes(probe).catch(() => null);
    return {
      repo: src.repo,
      revision: src.revision,
      pageUrl: repoPage(src),
      license: { name: FIRELLAVA_LICENSE, url: repoPage(src) },
      token: { known: token !== null, saved, fromEnvironment: hfTokenFrom(undefined) !== null, canSave: this.options.tokenStore !== undefined },
      download,
      listError,
      quants: QUANTS.map((q) => {
        const modelId = installedId(src.repo, q, src.revision);
        return {
          quant: q,
          outputBytes: sourceBytes === null ? null : estimateOutputBytes(sourceBytes, q),
          recommended: q === recommended,
          modelId,
          installed: registry.models.some((m) => m.id === modelId && m.complete),
        };
      }),
      defaultQuant: recommended,
      freeBytes,
      margin: DISK_MARGIN,
      checkpointDir: ckDir,
      job: this.snapshot(),
    };
  }

  async start({ quant, repo, revision, deleteCheckpoint, activate }: GetStart): Promise<ConversionJob> {
    // Read before the busy check: no await may come between that check and `current = …`, or a
    // double click starts two jobs.
    const token = await this.options.models.hfToken();
    if (this.running()) fail({ code: 'INVALID_INPUT', reason: 'BUSY', message: 'Get FireLLaVA is already running.', action: 'Wait for it or cancel it.' });
    if (!isQuant(quant)) fail({ code: 'INVALID_INPUT', reason: 'BAD_QUANT', message: `Unknown quantization "${quant}": choose one of ${QUANTS.join(', ')}.`, action: null });
    const src = this.source(repo, revision);
    const ac = new AbortController();
    const view: ConversionJob = {
      id: `${installedId(src.repo, quant, src.revision)}-${Date.now().toString(36)}`,
      repo: src.repo,
      revision: src.revision,
      quant,
      state: 'running',
      phase: 'download',
      progress: { file: null, bytesDone: 0, bytesTotal: null, bytesPerSecond: 0, etaSeconds: null },
      deleteCheckpoint,
      activate,
      error: null,
      result: null,
      startedAt: new Date().toISOString(),
    };
    const entry = workerEntry();
    const done = getFireLlava({
      quant,
      repo: src.repo,
      revision: src.revision,
      origin: this.origin,
      token,
      checkpointDir: checkpointDirFor(this.options.dataDir, src.repo),
      manager: this.options.models,
      activate,
      deleteCheckpoint,
      signal: ac.signal,
      ...(entry ? { workerEntry: entry } : {}),
      onProgress: (p) => {
        view.phase = p.phase;
        view.progress = { file: p.file, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond, etaSeconds: p.etaSeconds };
        this.publish();
      },
    }).then(
      (r) => {
        view.state = 'ready';
        view.phase = 'ready';
        view.result = { model: r.installed, modelBytes: r.modelBytes, mmprojBytes: r.mmprojBytes, checkpointDeleted: r.checkpointDeleted, seconds: r.seconds };
        this.publish();
        // Loading 13B takes a while: progress and failures show on engine.watch.
        if (activate && r.installed) void this.options.engine.load({ model: r.model, mmproj: r.mmproj });
      },
      (err: unknown) => {
        const e = toGetError(err, src);
        view.state = e.code === 'CANCELLED' ? 'cancelled' : 'error';
        view.error = { code: e.code, reason: e.reason, message: e.message, action: e.action };
        view.progress.bytesPerSecond = 0;
        view.progress.etaSeconds = null;
        this.publish();
      },
    );
    this.current = { view, ac, done };
    this.publish();
    return structuredClone(view);
  }

  async cancel(): Promise<ConversionJob | null> {
    if (!this.current) return null;
    this.current.ac.abort();
    await this.current.done;
    return structuredClone(this.current.view);
  }

  async discard({ repo, revision }: GetWhere): Promise<{ freedBytes: number }> {
    if (this.running()) fail({ code: 'INVALID_INPUT', reason: 'BUSY', message: 'Get FireLLaVA is running.', action: 'Cancel it first.' });
    const dir = checkpointDirFor(this.options.dataDir, this.source(repo, revision).repo);
    const freedBytes = await dirBytes(dir);
    await rm(dir, { recursive: true, force: true });
    return { freedBytes };
  }
}
