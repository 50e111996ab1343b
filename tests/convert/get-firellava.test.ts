// "Get FireLLaVA" end to end against a Hugging Face-like loopback server serving a tiny checkpoint:
// download → convert → verify → installed and loaded by the real engine; the gated repo, a cut
// connection, cancel and restart in each phase, the disk check up front and a missing shard.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { estimateOutputBytes, getFireLlava, GetFireLlavaError, installedId, type GetFireLlavaOptions, type GetPhase, type GetProgress } from '../../electron/convert/get-firellava';
import { writeHfCheckpoint } from '../../electron/fixtures/hf-checkpoint';
import { ModelManager } from '../../electron/models/model-manager';
import { collect, request, startEngine, user } from '../helpers/engine';
import { startHfServer, type HfServer } from './get-firellava-server';

let tmp: string;
let ck: string;
let shards: string[];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'get-firellava-'));
  ck = path.join(tmp, 'FireLLaVA-13b');
  const info = await writeHfCheckpoint(ck, { shards: 3 });
  shards = info.shards.map((s) => path.basename(s));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

let n = 0;
async function setup(o: Parameters<typeof startHfServer>[2] = {}): Promise<{ hf: HfServer; dataDir: string; manager: ModelManager; opts: (extra?: Partial<GetFireLlavaOptions>) => GetFireLlavaOptions }> {
  const dataDir = path.join(tmp, `data-${++n}`);
  const hf = await startHfServer(ck, tmp, o);
  const manager = new ModelManager({ dataDir, catalog: [] });
  const opts = (extra: Partial<GetFireLlavaOptions> = {}): GetFireLlavaOptions => ({
    quant: 'q4_0',
    origin: hf.origin,
    token: null,
    checkpointDir: path.join(dataDir, 'checkpoints', 'fireworks-ai', 'FireLLaVA-13b'),
    manager,
    activate: true,
    deleteCheckpoint: false,
    sync: false,
    retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 },
    progressIntervalMs: 0,
    ...extra,
  });
  return { hf, dataDir, manager, opts };
}

const failure = (p: Promise<unknown>): Promise<GetFireLlavaError> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as GetFireLlavaError,
  );

const shardBytes = (hf: HfServer): number => shards.reduce((s, f) => s + (hf.server.served.get(hf.name(f)) ?? 0), 0);
const totalShardSize = (hf: HfServer): number => shards.reduce((s, f) => s + (hf.sizes.get(f) ?? 0), 0);

describe('Get FireLLaVA pipeline', () => {
  test('gated repo with the right token: download, convert, verify, installed and active; the real engine answers', async () => {
    const { hf, manager, opts } = await setup({ token: 'hf_goodtoken123' });
    const events: GetProgress[] = [];
    try {
      const r = await getFireLlava(opts({ token: 'hf_goodtoken123', deleteCheckpoint: true, onProgress: (p) => events.push(p) }));
      // Phases in order, each once, with bytes for download and convert.
      const phases = events.map((e) => e.phase).filter((p, i, a) => a[i - 1] !== p);
      expect(phases).toEqual<GetPhase[]>(['download', 'convert', 'verify', 'ready']);
      const lastDownload = events.filter((e) => e.phase === 'download').at(-1)!;
      expect(lastDownload.bytesDone).toBe(lastDownload.bytesTotal);
      expect(events.some((e) => e.phase === 'convert' && e.bytesDone > 0 && e.bytesTotal! > 0)).toBe(true);
      expect(r.installed?.status).toBe('ready');
      expect(r.installed?.active).toBe(true);
      expect(r.installed?.id).toBe('firellava-13b-q4_0');
      expect(r.model).toMatch(/q4_0\.gguf$/);
      // The estimate shown before the download covered what was written.
      expect(estimateOutputBytes(totalShardSize(hf), 'q4_0')).toBeGreaterThanOrEqual(r.modelBytes + r.mmprojBytes);
      // Each shard fetched exactly once; the token went along (same origin).
      expect(shardBytes(hf)).toBe(totalShardSize(hf));
      expect(hf.server.requests.filter((q) => q.name.includes('/resolve/')).every((q) => q.authorization === 'Bearer hf_goodtoken123')).toBe(true);
      // The checkpoint was deleted (the 26 GB a user gets back); the pair stays.
      expect(r.checkpointDeleted).toBe(true);
      expect(existsSync(opts().checkpointDir)).toBe(false);
      expect(existsSync(r.model) && existsSync(r.mmproj)).toBe(true);

      const pair = await manager.activePair();
      expect(pair?.model.id).toBe('firellava-13b-q4_0');
      const engine = startEngine();
      try {
        const loaded = await engine.load(pair!.paths);
        expect(loaded.ok).toBe(true);
        const answer = await collect(engine, request([user('Describe the picture.')], { maxTokens: 8 }));
        expect(answer.terminal.type).toBe('done');
        expect(answer.events.filter((e) => e.type === 'delta').length).toBeGreaterThan(0);
      } finally {
        await engine.dispose();
      }
      // Again with the same quant: refused, nothing touched.
      const again = await failure(getFireLlava(opts({ token: 'hf_goodtoken123' })));
      expect(again.reason).toBe('ALREADY_INSTALLED');
      expect(existsSync(r.model)).toBe(true);
    } finally {
      await hf.close();
    }
  }, 60_000);

  test('gated repo without a token, then with a wrong one: a clear message, nothing written', async () => {
    const { hf, manager, opts } = await setup({ token: 'hf_goodtoken123' });
    try {
      const none = await failure(getFireLlava(opts()));
      expect(none.code).toBe('FORBIDDEN');
      expect(none.message).toMatch(/^Access denied \(401\) to fireworks-ai\/FireLLaVA-13b: No Hugging Face token is set\. Accept the Llama 2 Community License at http:\/\/127\.0\.0\.1:\d+\/fireworks-ai\/FireLLaVA-13b/);
      expect(none.action).toMatch(/create a read token/);
      const wrong = await failure(getFireLlava(opts({ token: 'hf_wrongtoken99' })));
      expect(wrong.message).toMatch(/Access denied \(403\).*The Hugging Face token was refused/);
      expect(wrong.message).not.toContain('hf_wrongtoken99');
      expect(shardBytes(hf)).toBe(0);
      expect(await manager.list()).toEqual([]);
    } finally {
      await hf.close();
    }
  });

  test('a connection cut in the middle of a shard resumes without fetching a byte twice', async () => {
    const big = shards[0]!;
    const { hf, opts } = await setup({ tweak: {} });
    const size = hf.sizes.get(big)!;
    hf.server.files.get(hf.name(big))!.cutAt = [Math.floor(size / 3), Math.floor((2 * size) / 3)];
    try {
      const r = await getFireLlava(opts());
      expect(r.installed?.status).toBe('ready');
      expect(hf.server.served.get(hf.name(big))).toBe(size);
      expect(hf.server.requests.filter((q) => q.name === hf.name(big)).map((q) => q.range)).toEqual([null, `bytes=${Math.floor(size / 3)}-`, `bytes=${Math.floor((2 * size) / 3)}-`]);
    } finally {
      await hf.close();
    }
  });

  test('cancel while downloading keeps the bytes; a restart resumes them', async () => {
    const { hf, opts, manager } = await setup();
    hf.server.throttle = 64 * 1024;
    try {
      const ac = new AbortController();
      const stopped = await failure(
        getFireLlava(
          opts({
            signal: ac.signal,
            onProgress: (p) => {
              if (p.phase === 'download' && p.file === shards[0] && p.bytesDone > 20_000) ac.abort();
            },
          }),
        ),
      );
      expect(stopped.code).toBe('CANCELLED');
      expect(stopped.action).toMatch(/resume/);
      const dir = opts().checkpointDir;
      const left = await readdir(dir);
      expect(left).toContain(`${shards[0]}.part`);
      expect(left).not.toContain(shards[0]);
      const before = shardBytes(hf);
      expect(before).toBeGreaterThan(0);
      hf.server.throttle = 0;
      const r = await getFireLlava(opts());
      expect(r.installed?.status).toBe('ready');
      // What arrived before the stop is not fetched again (a chunk in flight at most).
      expect(shardBytes(hf)).toBeLessThanOrEqual(totalShardSize(hf) + 64 * 1024);
      const resumed = hf.server.requests.find((q) => q.name === hf.name(shards[0]!) && q.range !== null);
      expect(resumed?.range).toMatch(/^bytes=\d+-$/);
      expect((await manager.list()).map((m) => m.status)).toEqual(['ready']);
    } finally {
      await hf.close();
    }
  });

  test('cancel while converting leaves no file that looks finished; after a crash-like leftover a restart completes', async () => {
    const { hf, opts, manager, dataDir } = await setup();
    try {
      const ac = new AbortController();
      const stopped = await failure(getFireLlava(opts({ signal: ac.signal, onProgress: (p) => p.phase === 'convert' && p.bytesDone > 0 && ac.abort() })));
      expect(stopped.code).toBe('CANCELLED');
      expect(stopped.message).toMatch(/partly converted files were deleted/);
      const outDir = manager.registry.dirOf(installedId('fireworks-ai/FireLLaVA-13b', 'q4_0'));
      const left = existsSync(outDir) ? await readdir(outDir) : [];
      expect(left.filter((f) => f.endsWith('.gguf'))).toEqual([]);
      expect(await manager.list()).toEqual([]);
      // A crash after the model file was renamed but before the projector: a complete-looking
      // name without a registry entry. It must be converted again, not adopted.
      await writeFile(path.join(outDir, 'FireLLaVA-13b-q4_0.gguf'), 'GGUF not really');
      await writeFile(path.join(outDir, 'mmproj-FireLLaVA-13b-f16.gguf.partial'), 'half');
      const served = shardBytes(hf);
      const r = await getFireLlava(opts());
      expect(r.installed?.status).toBe('ready');
      expect(shardBytes(hf)).toBe(served); // the checkpoint was already complete
      expect((await readdir(outDir)).sort()).toEqual(['FireLLaVA-13b-q4_0.gguf', 'mmproj-FireLLaVA-13b-f16.gguf']);
      expect(existsSync(path.join(dataDir, 'checkpoints', 'fireworks-ai', 'FireLLaVA-13b', 'config.json'))).toBe(true);
    } finally {
      await hf.close();
    }
  });

  test('not enough disk: refused before any shard is fetched', async () => {
    const { hf, opts, manager } = await setup();
    try {
      const e = await failure(getFireLlava(opts({ freeSpace: async () => 50_000 })));
      expect(e.reason).toBe('NO_SPACE');
      expect(e.message).toMatch(/^Not enough disk space: Get FireLLaVA needs about [\d.]+ MB \(download [\d.]+ KB \+ output [\d.]+ MB \+ 10%\) but only 50\.0 KB is free/);
      expect(shardBytes(hf)).toBe(0);
      expect(await manager.list()).toEqual([]);
    } finally {
      await hf.close();
    }
  });

  test('a shard named in the index but missing from the repository, or answering 404: clear errors', async () => {
    const { hf, opts } = await setup({ drop: [shards[1]!] });
    try {
      const e = await failure(getFireLlava(opts()));
      expect(e.reason).toBe('MISSING_SHARD');
      expect(e.message).toBe(`fireworks-ai/FireLLaVA-13b lists shard ${shards[1]} in its model.safetensors.index.json, but the repository does not have it`);
      expect(shardBytes(hf)).toBe(0);
    } finally {
      await hf.close();
    }
    const second = await setup({ tweak: { [shards[2]!]: { alwaysStatus: 404 } } });
    try {
      const e = await failure(getFireLlava(second.opts()));
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).toMatch(new RegExp(`^File not found \\(404\\): ${shards[2]!.replace(/\./g, '\\.')} at http://127\\.0\\.0\\.1:\\d+/fireworks-ai/FireLLaVA-13b/resolve/main/`));
    } finally {
      await second.hf.close();
    }
  });

  test('an unknown quantization or repository: clear errors', async () => {
    const { hf, opts } = await setup();
    try {
      expect((await failure(getFireLlava(opts({ quant: 'q3_x' })))).message).toMatch(/^Unknown quantization "q3_x": choose one of f32, f16, q8_0, q4_0/);
      const e = await failure(getFireLlava(opts({ repo: 'fireworks-ai/nope' })));
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).toMatch(/fireworks-ai\/nope at revision "main" was not found/);
    } finally {
      await hf.close();
    }
  });
});
