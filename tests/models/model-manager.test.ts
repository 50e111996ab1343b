import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../electron/models/catalog';
import { ModelManager, ModelManagerError } from '../../electron/models/model-manager';
import type { DownloadJob, ModelsEvent } from '../../electron/shared/contracts/models';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { startLoopbackServer, type LoopbackServer } from './loopback-server';

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const GB = 1e9;
const FAST = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

let fx: Fixtures;
let server: LoopbackServer;
let dataDir: string;

const managerError = (p: Promise<unknown>): Promise<ModelManagerError> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(ModelManagerError);
      return e as ModelManagerError;
    },
  );

function manager(extra: Partial<ConstructorParameters<typeof ModelManager>[0]> = {}): ModelManager {
  return new ModelManager({ dataDir, retry: FAST, progressIntervalMs: 0, freeSpace: async () => 100 * GB, ...extra });
}

function waitFor(m: ModelManager, id: string, states: DownloadJob['state'][]): Promise<DownloadJob> {
  return new Promise((resolve) => {
    const now = m.jobList().find((j) => j.id === id);
    if (now && states.includes(now.state)) return resolve(now);
    const off = m.onEvent((e) => {
      if (e.type === 'job' && e.job.id === id && states.includes(e.job.state)) {
        off();
        resolve(e.job);
      }
    });
  });
}

beforeAll(async () => {
  fx = await getFixtures();
});
beforeEach(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'firellava-models-'));
  server = await startLoopbackServer({
    'tiny/model.gguf': { path: fx.pair.model },
    'tiny/mmproj.gguf': { path: fx.pair.mmproj },
    'tiny/mmproj-mismatch.gguf': { path: fx.broken.mismatchedMmproj },
  });
});
afterEach(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('model manager: downloads', () => {
  it('pulls a pair by URL with per-file and per-pair progress, verifies it and makes it active', async () => {
    const m = manager();
    const events: ModelsEvent[] = [];
    m.onEvent((e) => events.push(e));
    const model = await m.pull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj.gguf'), sha256Model: sha(fx.pair.model) });
    expect(model).toMatchObject({ status: 'ready', active: true, problem: null });
    expect(model.files.map((f) => [f.role, f.present, f.sha256])).toEqual([
      ['model', true, sha(fx.pair.model)],
      ['mmproj', true, sha(fx.pair.mmproj)],
    ]);
    expect(sha(model.files[0]!.path)).toBe(sha(fx.pair.model));
    const jobs = events.flatMap((e) => (e.type === 'job' ? [e.job] : []));
    const total = readFileSync(fx.pair.model).length + readFileSync(fx.pair.mmproj).length;
    expect(jobs.at(-1)).toMatchObject({ state: 'done', total: { receivedBytes: total, totalBytes: total } });
    // Progress moved through the model file before the projector.
    const modelProgress = jobs.map((j) => j.files[0]!.receivedBytes);
    expect(new Set(modelProgress).size).toBeGreaterThan(2);
    expect(jobs.some((j) => j.state === 'downloading' && j.files[0]!.totalBytes === readFileSync(fx.pair.model).length)).toBe(true);
    const active = await m.activePair();
    expect(active?.paths.model).toBe(model.files[0]!.path);
  });

  it('refuses to start without room for all files plus 10%, and says how much', async () => {
    const m = manager({ freeSpace: async () => 500_000 });
    const err = await managerError(m.pull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj.gguf') }));
    expect(err.reason).toBe('DISK_FULL');
    // 544512 + 172832 bytes = 717 KB, plus 10% = 789 KB; 500 KB free.
    expect(err.message).toMatch(/needs 789 KB \(717 KB of files plus 10%\) but only 500 KB is free/);
    expect(server.served.get('tiny/model.gguf') ?? 0).toBeLessThanOrEqual(1);
    // Refused before any byte: no entry, no folder.
    expect(await m.list()).toEqual([]);
    expect(readdirSync(m.registry.modelsDir)).toEqual(['registry.json']);
  });

  it('403 on a gated repo says to accept the license and add a token', async () => {
    server.files.get('tiny/model.gguf')!.token = 'hf_secret';
    const m = manager();
    const err = await managerError(m.pull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj.gguf') }));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/accept the license at .* and add a Hugging Face token/);
  });

  it('pause keeps the bytes, resume fetches only the rest, cancel removes everything', async () => {
    server.throttle = 200 * 1024;
    const m = manager();
    const started = await m.startPull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj.gguf') });
    await new Promise<void>((resolve) => {
      const off = m.onEvent((e) => {
        if (e.type === 'job' && e.job.files[0]!.receivedBytes > 100_000) {
          off();
          resolve();
        }
      });
    });
    const paused = await m.pause(started.id);
    expect(paused.state).toBe('paused');
    const kept = paused.files[0]!.receivedBytes;
    expect(kept).toBeGreaterThan(100_000);
    const listed = (await m.list()).find((x) => x.id === started.id)!;
    expect(listed.status).toBe('incomplete');
    expect(listed.diskBytes).toBeGreaterThanOrEqual(kept);

    server.throttle = 0;
    const servedBefore = server.served.get('tiny/model.gguf')!;
    await m.resume(started.id);
    await waitFor(m, started.id, ['done', 'error']);
    // Plus the one byte of the access check (Range 0-0) before resuming.
    expect(server.served.get('tiny/model.gguf')! - servedBefore).toBeLessThanOrEqual(readFileSync(fx.pair.model).length - kept + 1);
    expect((await m.get(started.id)).status).toBe('ready');

    // Cancel a second download half way: nothing of it stays.
    server.throttle = 200 * 1024;
    const second = await m.startPull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj-mismatch.gguf') });
    await new Promise((r) => setTimeout(r, 300));
    const cancelled = await m.cancel(second.id);
    expect(cancelled.state).toBe('cancelled');
    expect(existsSync(m.registry.dirOf(second.id))).toBe(false);
    expect((await m.list()).map((x) => x.id)).toEqual([started.id]);
    // An id with no download: pause, resume and cancel each say so the same way.
    for (const call of [m.pause, m.resume, m.cancel]) {
      await expect(call.call(m, 'model-00000000')).rejects.toMatchObject({ code: 'NOT_FOUND', reason: 'NO_DOWNLOAD' });
    }
  });

  it('an app restart finds the unfinished download and resumes it', async () => {
    server.throttle = 200 * 1024;
    const first = manager();
    const job = await first.startPull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj.gguf') });
    await new Promise((r) => setTimeout(r, 400));
    await first.pause(job.id); // stands in for the process going away; the restart test in cli.test.ts kills a real one
    server.throttle = 0;

    const second = manager();
    const found = (await second.list()).find((x) => x.id === job.id)!;
    expect(found.status).toBe('incomplete');
    expect(found.problem).toMatch(/resume it/);
    await second.resume(job.id);
    const done = await waitFor(second, job.id, ['done', 'error']);
    expect(done.state).toBe('done');
    expect(sha((await second.get(job.id)).files[0]!.path)).toBe(sha(fx.pair.model));
  });

  it('a checksum mismatch deletes the file and reports it on the job', async () => {
    server.files.get('tiny/mmproj.gguf')!.corruptAt = 5000;
    const m = manager();
    const err = await managerError(m.pull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj.gguf'), sha256Mmproj: sha(fx.pair.mmproj) }));
    expect(err.reason).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toMatch(/Checksum mismatch for mmproj\.gguf.*The downloaded file was deleted/);
    const dir = m.registry.dirOf(m.jobList()[0]!.id);
    expect(readdirSync(dir).filter((f) => f.startsWith('mmproj'))).toEqual([]);
  });

  it('a downloaded pair whose projector does not match is not ready and says why', async () => {
    const m = manager();
    const err = await managerError(m.pull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj-mismatch.gguf') }));
    expect(err.reason).toBe('PAIR_INVALID');
    expect(err.message).toMatch(/outputs 128-wide embeddings but model model\.gguf is 64 wide: they are not a pair/);
    expect(await m.activePair()).toBeNull();
  });
});

describe('model manager: import and pairing', () => {
  it('copies, hard-links or symlinks a valid pair', async () => {
    const m = manager();
    const copied = await m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'copy' });
    expect(copied).toMatchObject({ status: 'ready', active: true, source: 'import' });
    expect(sha(copied.files[0]!.path)).toBe(sha(fx.pair.model));
    expect(lstatSync(copied.files[0]!.path).isSymbolicLink()).toBe(false);
    await m.remove(copied.id);
    expect(existsSync(fx.pair.model)).toBe(true);

    const linked = await m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'symlink' });
    expect(lstatSync(linked.files[0]!.path).isSymbolicLink()).toBe(true);
    expect(linked.diskBytes).toBe(0);
    await m.remove(linked.id);
    expect(existsSync(fx.pair.model)).toBe(true); // deleting a linked model never deletes the original

    const hard = await m.importLocal({ modelPath: fx.pairF16.model, mmprojPath: fx.pairF16.mmproj, mode: 'hardlink' });
    expect(lstatSync(hard.files[0]!.path).ino).toBe(lstatSync(fx.pairF16.model).ino);
  });

  it('rejects a mismatched projector, a wrong architecture and a truncated file, each with its reason', async () => {
    const m = manager();
    const mismatch = await managerError(m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.broken.mismatchedMmproj, mode: 'copy' }));
    expect(mismatch.message).toMatch(/vision projector mmproj-mismatch\.gguf outputs 128-wide embeddings but model model-f32\.gguf is 64 wide/);
    const arch = await managerError(m.importLocal({ modelPath: fx.broken.wrongArchModel, mmprojPath: fx.pair.mmproj, mode: 'copy' }));
    expect(arch.message).toBe('model wrong-arch-model.gguf: architecture is "gpt2", but FireLLaVA needs a "llama" model');
    const truncated = await managerError(m.importLocal({ modelPath: fx.broken.truncatedModel, mmprojPath: fx.pair.mmproj, mode: 'copy' }));
    expect(truncated.message).toMatch(/^model truncated-model\.gguf: .*(truncated|ends|beyond|past)/i);
    const swapped = await managerError(m.importLocal({ modelPath: fx.pair.mmproj, mmprojPath: fx.pair.model, mode: 'copy' }));
    expect(swapped.message).toMatch(/is a vision projector \(mmproj\), not the language model/);
    const gone = await managerError(m.importLocal({ modelPath: path.join(dataDir, 'nope.gguf'), mmprojPath: fx.pair.mmproj, mode: 'copy' }));
    expect(gone.message).toBe(`Model file not found: ${path.join(dataDir, 'nope.gguf')}`);
    expect(await m.list()).toEqual([]);
    await m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'symlink' });
    const twice = await managerError(m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'copy' }));
    expect(twice.message).toMatch(/^This pair is already installed as "model-f32-[0-9a-f]{8}"$/);
    expect(await m.list()).toHaveLength(1);
  });

  it('a damaged registry is reported with its path, never silently replaced', async () => {
    const m = manager();
    mkdirSync(m.registry.modelsDir, { recursive: true });
    writeFileSync(path.join(m.registry.modelsDir, 'registry.json'), '{"version":1,"models":[');
    await expect(m.list()).rejects.toThrow(/registry\.json cannot be read .*move it away to start over/);
    await expect(m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'symlink' })).rejects.toThrow(/cannot be read/);
    expect(readFileSync(path.join(m.registry.modelsDir, 'registry.json'), 'utf8')).toBe('{"version":1,"models":[');
  });

  it('a file removed after install shows as missing, and a broken file as invalid', async () => {
    const m = manager();
    const copied = await m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'copy' });
    rmSync(copied.files[1]!.path);
    const after = await m.get(copied.id);
    expect(after.status).toBe('missing');
    expect(after.problem).toMatch(/Vision projector file mmproj-f32\.gguf is gone/);

    const other = await m.importLocal({ modelPath: fx.pairF16.model, mmprojPath: fx.pairF16.mmproj, mode: 'copy' });
    copyFileSync(fx.broken.truncatedModel, other.files[0]!.path);
    const broken = await m.get(other.id);
    expect(broken.status).toBe('invalid');
    expect(broken.problem).toMatch(/^model model-f16\.gguf: /);
    await expect(m.setActive(other.id)).rejects.toThrow(/is not ready: model model-f16\.gguf/);
  });
});

describe('model manager: catalog and fit', () => {
  it('lists FireLLaVA-13B first, honest about having no GGUF download', async () => {
    const catalog = await loadCatalog();
    expect(catalog[0]).toMatchObject({ id: 'firellava-13b', downloadable: false, verified: false, sourceUrl: 'https://huggingface.co/fireworks-ai/FireLLaVA-13b' });
    expect(catalog[0]!.files.every((f) => f.url === null)).toBe(true);
    const m = manager({ catalog });
    const err = await managerError(m.pull({ catalogId: 'firellava-13b' }));
    expect(err.message).toMatch(/cannot be downloaded from the catalog: Fireworks publishes FireLLaVA-13B as safetensors only/);
  });

  it('shows the fit from the engine plan before download and from the tensors after', async () => {
    const devices = [{ name: 'NVIDIA RTX 4090', backend: 'cuda', memoryBytes: 24 * 1024 ** 3 }];
    const m = manager({ catalog: await loadCatalog(), devices: () => devices });
    const [fire] = await m.catalogItems(4096);
    expect(fire!.fit).toMatchObject({ fit: 'full', approximate: true, totalLayers: 40 });
    expect(fire!.fit!.summary).toMatch(/^Fits on NVIDIA RTX 4090 \(cuda, 25\.8 GB\) \(estimate\)$/);
    const small = manager({ catalog: await loadCatalog(), devices: () => [{ name: 'GTX 1650', backend: 'vulkan', memoryBytes: 4 * 1024 ** 3 }] });
    const partial = (await small.catalogItems(4096))[0]!.fit!;
    expect(partial.fit).toBe('partial');
    expect(partial.summary).toMatch(/Partly on GTX 1650 .*: \d+ of 40 layers on the GPU/);
    const none = (await manager({ catalog: await loadCatalog() }).catalogItems())[0]!.fit!;
    expect(none).toMatchObject({ fit: 'cpu', summary: 'Runs on the CPU: no GPU found (slow)' });
    const unknown = (await manager({ catalog: await loadCatalog(), devices: () => null }).catalogItems())[0]!.fit!;
    expect(unknown.summary).toMatch(/^GPU not detected yet/);

    const installed = await m.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'symlink' });
    expect(installed.fit).toMatchObject({ fit: 'full', gpuLayers: 2, totalLayers: 2, visionOnGpu: true, approximate: false });
  });

  it('shows FireLLaVA as installed once Get FireLLaVA converted it, not before', async () => {
    const m = manager({ catalog: await loadCatalog() });
    expect((await m.catalogItems())[0]!.installed).toBe(false);
    // Another repository's conversion is not FireLLaVA.
    const place = async (id: string, repo: string): Promise<void> => {
      mkdirSync(path.join(dataDir, 'models', id), { recursive: true });
      copyFileSync(fx.pair.model, path.join(dataDir, 'models', id, 'model.gguf'));
      copyFileSync(fx.pair.mmproj, path.join(dataDir, 'models', id, 'mmproj.gguf'));
      await m.installConverted({ id, name: id, source: `convert:hf:${repo}@main`, licenseUrl: null, modelFile: 'model.gguf', mmprojFile: 'mmproj.gguf', activate: false });
    };
    await place('other-q4_0', 'someone/Other-LLaVA');
    expect((await m.catalogItems())[0]!.installed).toBe(false);
    await place('firellava-13b-q4_0', 'fireworks-ai/FireLLaVA-13b');
    expect((await m.catalogItems())[0]!.installed).toBe(true);
  });
});
