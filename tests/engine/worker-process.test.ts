// How the engine's worker process is started: its malloc settings, and what that saves a user
// who asks about photos (measured in page faults, which a loaded machine does not blur).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { WORKER_MALLOC_TUNABLES, workerEnv } from '../../electron/engine/worker-process';
import { gradientPng } from '../../electron/fixtures/png';
import { getFixtures } from '../helpers/fixtures';
import { collect, request, startEngine, user } from '../helpers/engine';

describe('workerEnv', () => {
  it('adds the malloc tunables on Linux and keeps the rest of the environment', () => {
    const env = workerEnv({ PATH: '/usr/bin', HOME: '/home/u' }, 'linux');
    expect(env.PATH).toBe('/usr/bin');
    expect(env.HOME).toBe('/home/u');
    expect(env.GLIBC_TUNABLES).toBe(Object.entries(WORKER_MALLOC_TUNABLES).map(([k, v]) => `${k}=${v}`).join(':'));
  });

  it('keeps tunables the user set, including a different value for one of ours', () => {
    const env = workerEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1000' }, 'linux');
    const entries = env.GLIBC_TUNABLES!.split(':');
    expect(entries).toContain('glibc.malloc.arena_max=2');
    expect(entries).toContain('glibc.malloc.trim_threshold=1000');
    expect(entries).toContain(`glibc.malloc.mmap_threshold=${WORKER_MALLOC_TUNABLES['glibc.malloc.mmap_threshold']}`);
    expect(entries.filter((e) => e.startsWith('glibc.malloc.trim_threshold='))).toHaveLength(1);
  });

  it('changes nothing off Linux', () => {
    expect(workerEnv({ PATH: '/bin' }, 'darwin')).toEqual({ PATH: '/bin' });
    expect(workerEnv({ PATH: 'C:\\' }, 'win32')).toEqual({ PATH: 'C:\\' });
  });
});

/** Minor page faults of a whole process so far (Linux /proc). */
function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

describe.runIf(process.platform === 'linux')('repeated questions about a photo', () => {
  let engine: LocalEngine;
  let dir: string;
  let photo: string;

  beforeAll(async () => {
    const fx = await getFixtures();
    dir = await mkdtemp(path.join(os.tmpdir(), 'worker-process-'));
    photo = path.join(dir, 'photo.png');
    // 336 px like FireLLaVA's input: its decoded pixels (330 kB) are above glibc's default 128 kB.
    await writeFile(photo, gradientPng(336, 336));
    engine = startEngine();
    expect((await engine.load(fx.pair)).ok).toBe(true);
  });

  afterAll(async () => {
    await engine?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('reuse the worker memory of earlier answers instead of page-faulting it in again each time', async () => {
    const ask = async (n: number) => {
      // A different system prompt before the image each time: nothing is reused from the KV cache.
      const req = request([user('Write a product title.', [{ id: 'p'.repeat(64), path: photo }])], { maxTokens: 4 }, `photo-${n}`);
      const r = await collect(engine, { ...req, system: `Shop assistant ${n}.` });
      expect(r.events.some((e) => e.type === 'phase' && e.phase === 'encoding-image')).toBe(true);
      expect(r.terminal.type).toBe('done');
    };
    // Warm-up: each libuv thread that may run a completion grows its own malloc arena once.
    for (let n = 0; n < 8; n++) await ask(n);
    const pid = engine.workerPid();
    expect(pid).toBeDefined();
    const before = minorFaults(pid!);
    const answers = 6;
    for (let n = 0; n < answers; n++) await ask(100 + n);
    const perAnswer = (minorFaults(pid!) - before) / answers;
    // Measured on the tiny model: ~250 per answer with glibc's defaults (the image buffers go back
    // to the kernel after every answer), 15-65 with the worker's tunables.
    expect(perAnswer).toBeLessThan(100);
  });
});
