// No GPU here, so the worker is told it has one: its device list gains a fake Vulkan GPU and a
// load on that build dies like a driver crash. The real worker and binding do everything else.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../electron/backend/backend';
import { createLocalEngine, type LocalEngine } from '../../electron/engine/engine-host';
import { spawnNodeWorker, type SpawnWorker } from '../../electron/engine/worker-process';
import type { WorkerToHost } from '../../electron/engine/worker-protocol';
import { getFixtures } from '../helpers/fixtures';
import { collect, request, user, WORKER_ENTRY } from '../helpers/engine';

const GiB = 1024 ** 3;

/** Real worker, except that it "sees" a GPU on the Vulkan build and crashes loading on it. */
const withCrashingGpu: SpawnWorker = (entry) => {
  const real = spawnNodeWorker(entry);
  const devicesFor = new Map<number, string>();
  let onMessage: (m: WorkerToHost) => void = () => {};
  real.onMessage((m) => {
    if (m.type === 'result' && m.ok && devicesFor.get(m.id) === 'vulkan') {
      const value = m.value as { libVariant: string; devices: unknown[] };
      const gpu = { backend: 'Vulkan', type: 'gpu', name: 'Test GPU 8 GB', memoryBytes: 8 * GiB };
      onMessage({ ...m, value: { ...value, devices: [gpu, ...value.devices] } });
      return;
    }
    onMessage(m);
  });
  return {
    get pid() {
      return real.pid;
    },
    send: (message) => {
      if (message.type === 'request' && message.kind === 'devices') devicesFor.set(message.id, message.params.libVariant);
      if (message.type === 'request' && message.kind === 'load' && message.params.libVariant === 'vulkan') {
        real.kill();
        return;
      }
      real.send(message);
    },
    onMessage: (listener) => {
      onMessage = listener;
    },
    onExit: (listener) => real.onExit(listener),
    onOutput: (listener) => real.onOutput(listener),
    kill: () => real.kill(),
  };
};

let engine: LocalEngine;

beforeAll(() => {
  engine = createLocalEngine({ workerEntry: WORKER_ENTRY, spawn: withCrashingGpu, platform: 'linux', hasNvidiaDriver: false });
});

afterAll(async () => {
  await engine?.dispose();
});

describe('GPU load failure', () => {
  it('falls back to the CPU build, says why in the status, and answers', async () => {
    const fx = await getFixtures();
    const loaded = await engine.load(fx.pair);
    expect(loaded.ok).toBe(true);
    const status = engine.status();
    expect(status.state).toBe('ready');
    expect(status.device).toMatchObject({ backend: 'cpu' });
    expect(status.fallbackReason).toMatch(/Test GPU 8 GB \(Vulkan\) failed/);
    expect(status.fallbackReason).toMatch(/crashed \(signal SIGKILL\) while loading the model model-f32.gguf/);
    expect(status.message).toMatch(/^Ready on CPU fallback: /);
    const r = await collect(engine, request([user('Still working?')]));
    expect(r.terminal.type).toBe('done');
  });
});

describe('device probe before any model is loaded', () => {
  it('finds the GPU a build offers without loading anything, and the model manager fits to it', async () => {
    const fresh = createLocalEngine({ workerEntry: WORKER_ENTRY, spawn: withCrashingGpu, platform: 'linux', hasNvidiaDriver: false });
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'firellava-probe-'));
    try {
      expect(await fresh.probeDevices()).toEqual([{ backend: 'vulkan', name: 'Test GPU 8 GB', memoryBytes: 8 * GiB }]);
      expect(fresh.status().state).toBe('no-model');
      const backend = createBackend({ dataDir, engine: fresh, app: { name: 't', version: '0' } });
      try {
        const catalog = await backend.dispatcher.call('models.catalog', {}, { transport: 'http' });
        expect(catalog.ok).toBe(true);
        const first = (catalog.ok ? catalog.value : []) as Array<{ fit: { summary: string; devices: Array<{ name: string }> } }>;
        expect(first[0]?.fit.devices.map((d) => d.name)).toEqual(['Test GPU 8 GB', 'CPU']);
        expect(first[0]?.fit.summary).toMatch(/Test GPU 8 GB/);
      } finally {
        await backend.close();
      }
    } finally {
      await fresh.dispose();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('on a machine without a GPU it says so, still without loading a model', async () => {
    const plain = createLocalEngine({ workerEntry: WORKER_ENTRY, platform: 'linux', hasNvidiaDriver: false });
    try {
      expect(await plain.probeDevices()).toEqual([]);
      expect(plain.status().state).toBe('no-model');
    } finally {
      await plain.dispose();
    }
  });
});
