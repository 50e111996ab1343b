// How the engine's worker process is started: its malloc settings and where its native logs go,
// and what that saves a user who asks about photos (counted in page faults and log reads, which a
// loaded machine does not blur).
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalEngine, type LocalEngine } from '../../electron/engine/engine-host';
import { spawnNodeWorker, WORKER_MALLOC_TUNABLES, workerEnv, type SpawnWorker, type WorkerProcess } from '../../electron/engine/worker-process';
import type { WorkerToHost } from '../../electron/engine/worker-protocol';
import { gradientPng } from '../../electron/fixtures/png';
import { getFixtures } from '../helpers/fixtures';
import { collect, request, startEngine, user, WORKER_ENTRY } from '../helpers/engine';

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

/** A stand-in worker: writes log lines the way native code does (unbuffered, one write each). */
const LOGGING_WORKER = `
const { writeSync } = require('node:fs');
const lines = Number(process.argv[2] ?? process.env.LINES);
for (let i = 0; i < lines; i++) writeSync(i % 2 ? 1 : 2, 'native line ' + i + ' ' + 'x'.repeat(200) + '\\n');
if (process.env.THEN === 'crash') process.kill(process.pid, 'SIGKILL');
process.send({ type: 'ready', pid: process.pid });
process.on('message', () => {
  writeSync(2, 'written after the host asked\\n');
  process.send({ type: 'ready', pid: process.pid });
});
process.on('disconnect', () => process.exit(0));
`;

describe.runIf(process.platform === 'linux')('native output of the worker', () => {
  let dir: string;
  let entry: string;
  const started: WorkerProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'worker-output-'));
    entry = path.join(dir, 'logging-worker.cjs');
    await writeFile(entry, LOGGING_WORKER);
  });

  afterAll(async () => {
    for (const w of started) w.kill();
    await rm(dir, { recursive: true, force: true });
  });

  function start(env: Record<string, string>): { worker: WorkerProcess; chunks: string[] } {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const worker = spawnNodeWorker(entry);
      started.push(worker);
      const chunks: string[] = [];
      worker.onOutput((c) => chunks.push(c));
      return { worker, chunks };
    } finally {
      for (const key of Object.keys(env)) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  }

  it('is all in hand when the next message arrives, read in one go rather than line by line', async () => {
    const { worker, chunks } = start({ LINES: '400' });
    const seenAtReady = await new Promise<string>((resolve) => worker.onMessage((m: WorkerToHost) => m.type === 'ready' && resolve(chunks.join(''))));
    expect(seenAtReady).toContain('native line 0 ');
    expect(seenAtReady).toContain('native line 399 ');
    expect(seenAtReady.split('\n').filter(Boolean)).toHaveLength(400);
    // Through a pipe the host was woken for (nearly) every one of these writes.
    expect(chunks.length).toBeLessThanOrEqual(2);
  });

  it('is complete when the worker dies, so a crash report has the last lines', async () => {
    // 400 kB written right before it dies; the exit handler is where the engine builds its report.
    const { worker, chunks } = start({ LINES: '2000', THEN: 'crash' });
    const atExit = await new Promise<{ text: string; signal: string | null }>((resolve) =>
      worker.onExit((_code, signal) => resolve({ text: chunks.join(''), signal })),
    );
    expect(atExit.signal).toBe('SIGKILL');
    expect(atExit.text).toContain('native line 1999 ');
  });

  it('keeps the latest megabyte of a flood and goes on reading after it emptied the file', async () => {
    // 8,000 lines of ~216 bytes: 1.7 MB before the first message.
    const { worker, chunks } = start({ LINES: '8000' });
    const next = () => new Promise<void>((resolve) => worker.onMessage((m: WorkerToHost) => m.type === 'ready' && resolve()));
    await next();
    const first = chunks.join('');
    expect(first).toContain('native line 7999 ');
    expect(first).not.toContain('native line 0 ');
    expect(first.length).toBeLessThanOrEqual(1024 * 1024);
    chunks.length = 0;
    const again = next();
    worker.send({ type: 'cancel', id: 1 });
    await again;
    expect(chunks.join('')).toBe('written after the host asked\n');
  });

  it('leaves no file behind', () => {
    const { worker } = start({ LINES: '1' });
    expect(worker.pid).toBeDefined();
    expect(readdirSync('/dev/shm').filter((name) => name.startsWith(`firellava-engine-${process.pid}-`))).toEqual([]);
  });

  it('an image answer reaches the host in a few reads that still hold the vision log', async () => {
    const fx = await getFixtures();
    let chunks: string[] = [];
    const counting: SpawnWorker = (e) => {
      const w = spawnNodeWorker(e);
      w.onOutput((c) => chunks.push(c));
      return w;
    };
    const engine = createLocalEngine({ workerEntry: WORKER_ENTRY, spawn: counting });
    try {
      expect((await engine.load(fx.pair)).ok).toBe(true);
      chunks = [];
      let messages = 0;
      const r = await collect(engine, request([user('Describe it.', [{ id: 'q'.repeat(64), path: fx.images.png32 }])], { maxTokens: 8 }, 'log'), () => messages++);
      expect(r.terminal.type).toBe('done');
      expect(chunks.join('')).toContain('image');
      expect(chunks.length).toBeLessThanOrEqual(messages + 1);
    } finally {
      await engine.dispose();
    }
  });

  it('streams as it is written to someone watching (serve --verbose)', async () => {
    const fx = await getFixtures();
    let log = '';
    const engine = createLocalEngine({ workerEntry: WORKER_ENTRY, onLog: (text) => (log += text) });
    try {
      expect((await engine.load(fx.pair)).ok).toBe(true);
      await expect.poll(() => log).toContain('llama_model_loader');
    } finally {
      await engine.dispose();
    }
  });
});
