// Issue #13 item 1: a first imported pair becomes active and must be loaded, without setActive.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { startEngine } from '../helpers/engine';
import { getFixtures } from '../helpers/fixtures';

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
