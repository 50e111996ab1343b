// Issue #15 item 3: a worker that dies while loading a pair, or on the pair's first answer, is
// reported with the file's name; a pair that kills it twice is marked broken (engine and library)
// and never restarted a third time. The worker is the real one, SIGKILLed from the test.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path, { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../electron/backend/backend';
import { collect, request, startEngineKilledOn, user } from '../helpers/engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';

let fx: Fixtures;
let tmp: string;

beforeAll(async () => {
  fx = await getFixtures();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'crash-broken-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('a pair that kills the worker', () => {
  it('during load: named, then marked broken on the second crash, and not loaded a third time', async () => {
    const { engine, spawned } = startEngineKilledOn('load');
    const broken: string[] = [];
    engine.onPairBroken((pair, message) => broken.push(`${basename(pair.model)}: ${message}`));
    try {
      const first = await engine.load(fx.pair);
      expect(first.ok).toBe(false);
      if (first.ok) return;
      expect(first.error.code).toBe('ENGINE_CRASHED');
      expect(first.error.message).toMatch(new RegExp(`crashed \\(signal SIGKILL\\) while loading the model ${basename(fx.pair.model)}`));
      expect(broken).toEqual([]);

      const second = await engine.load(fx.pair);
      expect(second.ok).toBe(false);
      if (second.ok) return;
      expect(second.error.code).toBe('MODEL_LOAD_FAILED');
      expect(second.error.message).toContain(basename(fx.pair.model));
      expect(second.error.message).toMatch(/crashed the engine 2 times, so it is marked broken/);
      expect(engine.status()).toMatchObject({ state: 'error', message: second.error.message });
      expect(broken).toHaveLength(1);
      expect(spawned()).toBe(2);

      const third = await engine.load(fx.pair);
      expect(third).toMatchObject({ ok: false, error: { code: 'MODEL_LOAD_FAILED', message: second.error.message } });
      expect(spawned()).toBe(2); // no third worker
    } finally {
      await engine.dispose();
    }
  });

  it('on its first image: the projector is named, one restart, then broken and no third restart', async () => {
    const { engine, spawned } = startEngineKilledOn('complete');
    const image = { id: 'a'.repeat(64), path: fx.images.png32 };
    try {
      expect((await engine.load(fx.pair)).ok).toBe(true);
      expect(spawned()).toBe(1);
      const first = await collect(engine, request([user('What is this?', [image])]));
      expect(first.terminal).toMatchObject({ type: 'error', error: { code: 'ENGINE_CRASHED' } });
      if (first.terminal.type !== 'error') return;
      expect(first.terminal.error.message).toContain(`the vision projector ${basename(fx.pair.mmproj)} is the likely cause`);
      expect(engine.status().message).toMatch(/restarts with your next message/);

      const second = await collect(engine, request([user('What is this?', [image])]));
      expect(spawned()).toBe(2); // the one restart
      expect(second.terminal).toMatchObject({ type: 'error', error: { code: 'MODEL_LOAD_FAILED' } });
      if (second.terminal.type !== 'error') return;
      expect(second.terminal.error.message).toMatch(/marked broken/);

      const third = await collect(engine, request([user('Hello?')]));
      expect(third.terminal).toMatchObject({ type: 'error', error: { code: 'MODEL_LOAD_FAILED', message: second.terminal.error.message } });
      expect(third.events.some((e) => e.type === 'phase' && e.phase === 'loading-model')).toBe(false);
      expect(spawned()).toBe(2); // no third restart
      expect(engine.status()).toMatchObject({ state: 'error' });
    } finally {
      await engine.dispose();
    }
  });

  it('in the library: the installed pair shows as broken with the reason and cannot be made active', async () => {
    const { engine } = startEngineKilledOn('load');
    const backend = createBackend({ dataDir: path.join(tmp, 'data'), engine, app: { name: 'FireLLaVA', version: 'test' } });
    try {
      const imported = await backend.models.importLocal({ modelPath: fx.pair.model, mmprojPath: fx.pair.mmproj, mode: 'symlink' });
      const paths = (role: 'model' | 'mmproj') => (imported.files.find((f) => f.role === role) as { path: string }).path;
      const pair = { model: paths('model'), mmproj: paths('mmproj') };
      // The import's own autoload may be the first crash; load until the engine gives up.
      const deadline = Date.now() + 30_000;
      let listed = await backend.models.get(imported.id);
      while (listed.status !== 'broken' && Date.now() < deadline) {
        await engine.load(pair);
        listed = await backend.models.get(imported.id);
      }
      expect(listed.status).toBe('broken');
      expect(listed.problem).toContain(basename(pair.model));
      expect(listed.problem).toMatch(/marked broken/);
      await expect(backend.models.setActive(imported.id)).rejects.toThrow(/not ready/);
      expect(await backend.models.activePair()).toBeNull();
    } finally {
      await backend.close();
      await engine.dispose();
    }
  });
});
