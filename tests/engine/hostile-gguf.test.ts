// Issue #15 item 3: hostile but well-formed GGUFs, crafted from the tiny pair by the fixture code.
// Before the validator checked them, 15 of these 21 killed the worker (SIGSEGV/SIGABRT) at load or
// on the first image and 2 loaded a vocabulary that fails every chat; now each is refused before
// any native code runs.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path, { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { HOSTILE_VARIANTS, writeHostileVariants, type WrittenVariant } from '../../electron/fixtures/hostile-gguf';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { collect, request, startEngine, user } from '../helpers/engine';

let fx: Fixtures;
let dir: string;
let variants: Map<string, WrittenVariant>;
let engine: LocalEngine;

beforeAll(async () => {
  fx = await getFixtures();
  dir = await mkdtemp(path.join(os.tmpdir(), 'hostile-gguf-'));
  variants = new Map((await writeHostileVariants(dir)).map((v) => [v.name, v]));
  engine = startEngine();
});

afterAll(async () => {
  await engine?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('hostile GGUFs are refused before llama.cpp sees them', () => {
  it.each(HOSTILE_VARIANTS.map((v) => [v.name, v.names] as const))('%s: refused naming %s and the file', async (name, key) => {
    const v = variants.get(name) as WrittenVariant;
    const pair = v.role === 'model' ? { model: v.path, mmproj: fx.pair.mmproj } : { model: fx.pair.model, mmproj: v.path };
    const r = await engine.load(pair);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('MODEL_INVALID');
    expect(r.error.message).toMatch(new RegExp(`^(model|vision projector) ${escape(basename(v.path))}: .*${escape(key)}`));
    expect(engine.status()).toMatchObject({ state: 'error', message: r.error.message });
    // Refused by the validator: no worker process was ever started, so none could crash.
    expect(engine.workerPid()).toBeUndefined();
  });

  it('the same engine then loads the good pair and answers about an image', async () => {
    expect((await engine.load(fx.pair)).ok).toBe(true);
    const answer = await collect(engine, request([user('What is this?', [{ id: 'a'.repeat(64), path: fx.images.png32 }])]));
    expect(answer.terminal.type).toBe('done');
    expect(answer.deltas.length).toBeGreaterThan(0);
  });
});
