// The registry is shared by the app and `firellava pull`/`convert` running at the same time: an
// update from one must never erase the other's.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelRegistry, type RegistryEntry } from '../../electron/models/registry';

const entry = (id: string): RegistryEntry => ({ id, name: id, source: 'import', licenseUrl: null, files: [], complete: true, addedAt: new Date(0).toISOString() });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-registry-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('model registry shared between processes', () => {
  it('keeps every entry when two writers interleave', async () => {
    // Two instances have separate in-process queues, like the app and the CLI.
    const app = new ModelRegistry(dir);
    const cli = new ModelRegistry(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => [app.upsert(entry(`app-${i}`)), cli.upsert(entry(`cli-${i}`))]).flat());
    const ids = (await app.read()).models.map((m) => m.id).sort();
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
  });

  it('keeps every entry when another process writes at the same time', async () => {
    const script = path.join(dir, 'writer.cjs');
    await build({
      stdin: {
        contents: `const { ModelRegistry } = require(${JSON.stringify(path.resolve('electron/models/registry.ts'))});
          const r = new ModelRegistry(process.argv[2]);
          (async () => {
            process.stdout.write('ready\\n');
            for (let i = 0; i < 60; i++) await r.upsert({ id: 'child-' + i, name: 'c', source: 'import', licenseUrl: null, files: [], complete: true, addedAt: '' });
          })().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`,
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: script,
      logLevel: 'silent',
    });
    const parent = new ModelRegistry(dir);
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Both write one update after another over the same stretch of time.
    await new Promise((resolve) => child.stdout.once('data', resolve));
    for (let i = 0; i < 60; i++) await parent.upsert(entry(`parent-${i}`));
    expect(await exited).toBe(0);
    const ids = (await parent.read()).models.map((m) => m.id);
    expect(ids.filter((id) => id.startsWith('child-'))).toHaveLength(60);
    expect(ids.filter((id) => id.startsWith('parent-'))).toHaveLength(60);
  });

  it('takes over a lock left by a crashed process', async () => {
    mkdirSync(path.join(dir, 'models'), { recursive: true });
    // A pid that cannot be running: the lock is a leftover from a crash.
    writeFileSync(path.join(dir, 'models', 'registry.json.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, token: 'old' }));
    const registry = new ModelRegistry(dir, { waitMs: 200 });
    await registry.upsert(entry('after-crash'));
    expect((await registry.get('after-crash'))?.id).toBe('after-crash');
  });

  it('gives up with a clear message while a live process holds the lock, and changes nothing', async () => {
    await new ModelRegistry(dir).upsert(entry('before'));
    const before = readFileSync(path.join(dir, 'models', 'registry.json'), 'utf8');
    writeFileSync(path.join(dir, 'models', 'registry.json.lock'), JSON.stringify({ pid: process.pid, token: 'busy' }));
    const registry = new ModelRegistry(dir, { waitMs: 150 });
    await expect(registry.upsert(entry('blocked'))).rejects.toThrow(new RegExp(`another FireLLaVA process \\(pid ${process.pid}\\)`));
    expect(readFileSync(path.join(dir, 'models', 'registry.json'), 'utf8')).toBe(before);
    // The holder's lock is left alone.
    expect(readFileSync(path.join(dir, 'models', 'registry.json.lock'), 'utf8')).toContain('busy');
  });
});
