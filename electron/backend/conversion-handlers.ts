// "Get FireLLaVA" calls: the plan (sizes, license, token), one job at a time through the same
// pipeline as `firellava convert --hf` (electron/convert/get-firellava.ts), its events, cancel.
import { existsSync, mkdtempSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bytesOnDisk, listRepoFiles, repoPage, selectFiles, type CheckpointSource } from '../convert/checkpoint-download';
import { QUANTS } from '../convert/convert-llava';
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
} from '../convert/get-firellava';
import { DISK_MARGIN } from '../models/disk-space';
import { hfTokenFrom } from '../models/hugging-face';
import type { ModelManager } from '../models/model-manager';
import { INDEX_FILE } from '../convert/safetensors';
import type { ConversionError, ConversionEvent, ConversionJob, ConversionPlan, conversionContract } from '../shared/contracts/conversion';
import type { Handlers } from '../shared/dispatcher';
import { AppErrorException } from '../shared/errors';
import type { BackendDeps } from './handlers';
import { createModelManager } from './model-handlers';

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

export function createConversionHandlers(deps: BackendDeps): Handlers<typeof conversionContract> {
  const models: ModelManager = deps.models ?? createModelManager(mkdtempSync(path.join(os.tmpdir(), 'firellava-convert-')), deps.engine);
  const dataDir = deps.dataDir ?? path.dirname(models.registry.modelsDir);
  const origin = hfOriginFromEnv();
  const listeners = new Set<(e: ConversionEvent) => void>();
  let current: { view: ConversionJob; ac: AbortController; done: Promise<void> } | null = null;

  const publish = (): void => {
    const job = current ? structuredClone(current.view) : null;
    for (const l of listeners) l({ type: 'job', job });
  };
  const source = (repo?: string, revision?: string): CheckpointSource => ({ repo: repo ?? DEFAULT_REPO, revision: revision ?? DEFAULT_REVISION, origin });
  const running = (): boolean => current?.view.state === 'running';

  deps.onClose?.(async () => {
    current?.ac.abort();
    await current?.done;
  });

  return {
    'convert.plan': async ({ repo, revision }) => {
      const src = source(repo, revision);
      const ckDir = checkpointDirFor(dataDir, src.repo);
      const token = await models.hfToken();
      const saved = deps.hfTokenStore ? (await deps.hfTokenStore.read().catch(() => null)) !== null : false;
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
      const registry = await models.registry.read();
      const recommended = recommendedQuant();
      let probe = dataDir;
      while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
      const freeBytes = await models.freeBytes(probe).catch(() => null);
      return {
        repo: src.repo,
        revision: src.revision,
        pageUrl: repoPage(src),
        license: { name: FIRELLAVA_LICENSE, url: repoPage(src) },
        token: { known: token !== null, saved, fromEnvironment: hfTokenFrom(undefined) !== null, canSave: deps.hfTokenStore !== undefined },
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
        job: current ? structuredClone(current.view) : null,
      };
    },

    'convert.start': async ({ quant, repo, revision, deleteCheckpoint, activate }) => {
      // Read before the busy check: no await may come between that check and `current = …`, or a
      // double click starts two jobs.
      const token = await models.hfToken();
      if (running()) fail({ code: 'INVALID_INPUT', reason: 'BUSY', message: 'Get FireLLaVA is already running.', action: 'Wait for it or cancel it.' });
      if (!isQuant(quant)) fail({ code: 'INVALID_INPUT', reason: 'BAD_QUANT', message: `Unknown quantization "${quant}": choose one of ${QUANTS.join(', ')}.`, action: null });
      const src = source(repo, revision);
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
        origin,
        token,
        checkpointDir: checkpointDirFor(dataDir, src.repo),
        manager: models,
        activate,
        deleteCheckpoint,
        signal: ac.signal,
        ...(entry ? { workerEntry: entry } : {}),
        onProgress: (p) => {
          view.phase = p.phase;
          view.progress = { file: p.file, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond, etaSeconds: p.etaSeconds };
          publish();
        },
      }).then(
        (r) => {
          view.state = 'ready';
          view.phase = 'ready';
          view.result = { model: r.installed, modelBytes: r.modelBytes, mmprojBytes: r.mmprojBytes, checkpointDeleted: r.checkpointDeleted, seconds: r.seconds };
          publish();
          // Loading 13B takes a while: progress and failures show on engine.watch.
          if (activate && r.installed) void deps.engine.load({ model: r.model, mmproj: r.mmproj });
        },
        (err: unknown) => {
          const e = toGetError(err, src);
          view.state = e.code === 'CANCELLED' ? 'cancelled' : 'error';
          view.error = { code: e.code, reason: e.reason, message: e.message, action: e.action };
          view.progress.bytesPerSecond = 0;
          view.progress.etaSeconds = null;
          publish();
        },
      );
      current = { view, ac, done };
      publish();
      return structuredClone(view);
    },

    'convert.cancel': async () => {
      if (!current) return null;
      current.ac.abort();
      await current.done;
      return structuredClone(current.view);
    },

    'convert.discard': async ({ repo, revision }) => {
      if (running()) fail({ code: 'INVALID_INPUT', reason: 'BUSY', message: 'Get FireLLaVA is running.', action: 'Cancel it first.' });
      const dir = checkpointDirFor(dataDir, source(repo, revision).repo);
      const freedBytes = await dirBytes(dir);
      await rm(dir, { recursive: true, force: true });
      return { freedBytes };
    },

    'convert.watch': async (_input, emit, signal) => {
      if (signal.aborted) return;
      listeners.add(emit);
      try {
        emit({ type: 'job', job: current ? structuredClone(current.view) : null });
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      } finally {
        listeners.delete(emit);
      }
    },
  };
}
