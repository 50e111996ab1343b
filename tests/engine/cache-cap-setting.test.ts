// The cache cap a user sets in App settings (engine.setCacheCap), on the real engine and the tiny
// pair: a lower cap deletes least-recently-used states at once, and the next start keeps the cap.
import { mkdtemp, open, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { conversationStem } from '../../electron/engine/kv-cache';
import { getKvCacheCap } from '../../electron/store/app-settings';
import { collect, request, startEngine, user } from '../helpers/engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';

const CTX = { transport: 'http' as const };
let fx: Fixtures;
let tmp: string;
const running: { engine: LocalEngine; backend: Backend }[] = [];

beforeAll(async () => {
  fx = await getFixtures();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'firellava-cap-setting-'));
});

afterAll(async () => {
  for (const r of running) {
    await r.backend.close();
    await r.engine.dispose();
  }
  await rm(tmp, { recursive: true, force: true });
});

/** The app's start: engine, then the backend on the data folder, then the model. */
async function boot(dataDir: string): Promise<{ engine: LocalEngine; backend: Backend }> {
  const engine = startEngine({ cacheDir: path.join(dataDir, 'kv-cache') });
  const backend = createBackend({ dataDir, engine, app: { name: 'FireLLaVA', version: 'test' } });
  running.push({ engine, backend });
  expect((await engine.load(fx.pair)).ok).toBe(true);
  return { engine, backend };
}

async function shutdown(r: { engine: LocalEngine; backend: Backend }): Promise<void> {
  running.splice(running.indexOf(r), 1);
  await r.backend.close();
  await r.engine.dispose();
}

/**
 * A 13B-sized state the tiny model cannot produce (caps start at 256 MB): a sparse file of that
 * size with a header last used `ageMs` ago. Size and age are all the budget looks at.
 */
async function bigState(cacheDir: string, id: string, bytes: number, ageMs: number): Promise<void> {
  const stem = conversationStem(cacheDir, id);
  const f = await open(`${stem}.state`, 'w');
  await f.truncate(bytes);
  await f.close();
  await writeFile(`${stem}.json`, '{}');
  const then = new Date(Date.now() - ageMs);
  await utimes(`${stem}.json`, then, then);
}

describe('cache cap setting', () => {
  it('a lower cap deletes the least recently used states at once, shows in the status, and is kept after a restart', async () => {
    const dataDir = path.join(tmp, 'data');
    const cacheDir = path.join(dataDir, 'kv-cache');
    const first = await boot(dataDir);
    const answered = await collect(first.engine, request([user('Same length question.')], { maxTokens: 8 }, 'recent'));
    expect(answered.terminal.type).toBe('done');
    await first.engine.refreshCacheSize();
    await bigState(cacheDir, 'oldest', 300e6, 2 * 3600_000);
    await bigState(cacheDir, 'older', 300e6, 3600_000);
    const has = async (id: string) => (await readdir(cacheDir)).some((n) => path.join(cacheDir, n).startsWith(`${conversationStem(cacheDir, id)}.state`));
    expect(await has('recent')).toBe(true);

    const set = await first.backend.dispatcher.call('engine.setCacheCap', { bytes: 4e8 }, CTX);
    expect(set.ok).toBe(true);
    // At once, with no answer in between: the oldest goes, the rest fits in 400 MB.
    expect(await has('oldest')).toBe(false);
    expect(await has('older')).toBe(true);
    expect(await has('recent')).toBe(true);
    expect(first.engine.status().kvCache?.capBytes).toBe(4e8);
    expect(first.engine.status().kvCache?.bytes).toBeLessThanOrEqual(4e8);
    expect(set.ok && set.value).toEqual(first.engine.status().kvCache);

    // Out of range: refused with the reason, the saved cap unchanged.
    const tooSmall = await first.backend.dispatcher.call('engine.setCacheCap', { bytes: 1e8 }, CTX);
    expect(tooSmall.ok ? null : tooSmall.error.message).toMatch(/256 MB to 1 TB/);
    await shutdown(first);

    const second = await boot(dataDir);
    expect(second.engine.status().kvCache?.capBytes).toBe(4e8);
    // The worker keeps to the cap after its own saves too: a later answer does not make room by raising it.
    await bigState(cacheDir, 'filler', 150e6, 60_000);
    const next = await collect(second.engine, request([user('Another question?')], { maxTokens: 8 }, 'next'));
    expect(next.terminal.type).toBe('done');
    await second.engine.refreshCacheSize();
    expect(await has('older')).toBe(false);
    expect(await has('filler')).toBe(true);
    expect(await has('next')).toBe(true);

    // Default: the saved cap goes and the engine's own default applies again.
    const reset = await second.backend.dispatcher.call('engine.setCacheCap', { bytes: null }, CTX);
    expect(reset.ok).toBe(true);
    expect(getKvCacheCap(second.backend.history.db)).toBeNull();
    expect(second.engine.status().kvCache?.capBytes).not.toBe(4e8);
  }, 60_000);
});
