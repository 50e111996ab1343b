// Issue #13 item 4: a pair given with --model answers without being installed. The model manager
// lists it as such, and the engine status says its quantization (real engine, tiny model).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { formatLoadedModel } from '../../electron/shared/format';
import { startEngine } from '../helpers/engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';

let tmp: string;
let fx: Fixtures;
let engine: LocalEngine;
let backend: Backend;

beforeAll(async () => {
  fx = await getFixtures();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'firellava-cli-model-'));
  engine = startEngine();
  backend = createBackend({ dataDir: path.join(tmp, 'data'), engine, app: { name: 'FireLLaVA', version: 'test' } });
});

afterAll(async () => {
  await backend?.close();
  await engine?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

const CTX = { transport: 'http' as const };
const commandLine = () => backend.dispatcher.call('models.commandLine', {}, CTX);

it('lists the --model pair as loaded from the command line, with its quantization and device', async () => {
  expect(await commandLine()).toEqual({ ok: true, value: null }); // nothing loaded yet
  // What `firellava serve --model X --mmproj Y` does.
  expect((await engine.load(fx.pair)).ok).toBe(true);
  const status = engine.status();
  expect(status.model?.quantization).toBe('F32'); // the tiny pair is written with general.file_type 0
  expect(formatLoadedModel(status)).toBe(`${status.model!.name} · F32 · CPU`);

  expect(await backend.dispatcher.call('models.list', {}, CTX)).toEqual({ ok: true, value: [] });
  expect(await commandLine()).toEqual({
    ok: true,
    value: {
      name: status.model!.name,
      quantization: 'F32',
      files: [
        { role: 'model', fileName: path.basename(fx.pair.model), path: fx.pair.model },
        { role: 'mmproj', fileName: path.basename(fx.pair.mmproj), path: fx.pair.mmproj },
      ],
      state: 'ready',
      message: status.message,
    },
  });
});

it('is no longer listed apart once the engine runs an installed pair', async () => {
  const imported = await backend.models.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'copy' });
  // Still the command-line files that answer (the copy is not loaded yet).
  expect(await commandLine()).toMatchObject({ ok: true, value: { state: 'ready', quantization: 'F32' } });
  expect((await backend.dispatcher.call('models.setActive', { id: imported.id }, CTX)).ok).toBe(true);
  const dataDir = path.join(tmp, 'data');
  const deadline = Date.now() + 30_000;
  while (!(engine.status().state === 'ready' && engine.status().model?.path.startsWith(dataDir)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(engine.status().model?.path.startsWith(dataDir)).toBe(true);
  expect(await commandLine()).toEqual({ ok: true, value: null });
});
