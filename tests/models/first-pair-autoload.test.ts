// Issue #13 item 1: a first imported pair becomes active and must be loaded, without setActive.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { startEngine } from '../helpers/engine';
import { ModelManager } from '../../electron/models/model-manager';
import { getFixtures } from '../helpers/fixtures';
import { startLoopbackServer } from './loopback-server';

let tmp: string;
let engine: LocalEngine;
let backend: Backend;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'firellava-autoload-'));
  engine = startEngine();
  backend = createBackend({ dataDir: path.join(tmp, 'data'), engine, app: { name: 'FireLLaVA', version: 'test' } });
});

afterAll(async () => {
  await backend?.close();
  await engine?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

it('loads the first imported pair: the engine is ready without models.setActive', async () => {
  const { pair } = await getFixtures();
  expect(engine.status().state).toBe('no-model');
  const imported = await backend.models.importLocal({ modelPath: pair.model, mmprojPath: pair.mmproj, mode: 'symlink' });
  expect(imported.active).toBe(true);
  const deadline = Date.now() + 30_000;
  while (engine.status().state !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(engine.status().state).toBe('ready');
});

it('loads the first pulled pair when its download completes', async () => {
  const { pair } = await getFixtures();
  const server = await startLoopbackServer({ 'tiny/model.gguf': { path: pair.model }, 'tiny/mmproj.gguf': { path: pair.mmproj } });
  const dataDir = path.join(tmp, 'pull-data');
  const fresh = startEngine();
  const models = new ModelManager({ dataDir, progressIntervalMs: 0, freeSpace: async () => 1e12 });
  const b = createBackend({ dataDir, engine: fresh, models, app: { name: 'FireLLaVA', version: 'test' } });
  try {
    await models.pull({ modelUrl: server.url('tiny/model.gguf'), mmprojUrl: server.url('tiny/mmproj.gguf') });
    const deadline = Date.now() + 30_000;
    while (fresh.status().state !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fresh.status().state).toBe('ready');
  } finally {
    await b.close();
    await fresh.dispose();
    await server.close();
  }
});
