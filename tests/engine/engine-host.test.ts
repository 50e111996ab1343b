// The real engine on the tiny generated pair: host in this process, llama.cpp in a worker process.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path, { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { gradientPng } from '../../electron/fixtures/png';
import { writeLlavaPair } from '../../electron/fixtures/tiny-llava';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { assistant, collect, request, startEngine, user } from '../helpers/engine';

const IMG_A = 'a'.repeat(64);
const IMG_B = 'b'.repeat(64);

let fx: Fixtures;
let engine: LocalEngine;

beforeAll(async () => {
  fx = await getFixtures();
  engine = startEngine();
  const loaded = await engine.load(fx.pair);
  expect(loaded.ok).toBe(true);
});

afterAll(async () => {
  await engine?.dispose();
});

const image = (id: string, path: string) => ({ id, path });

describe('generation', () => {
  it('reports a text answer cut by maxTokens as length, with every generated token counted', async () => {
    for (const maxTokens of [1, 3, 8]) {
      const r = await collect(engine, request([user('Write a long story about a red mug.')], { maxTokens }, `limit-${maxTokens}`));
      expect(r.terminal.type).toBe('done');
      if (r.terminal.type !== 'done') return;
      expect(r.terminal.finishReason).toBe('length');
      expect(r.terminal.usage.completionTokens).toBe(maxTokens);
    }
  });

  it('keeps JSON-constrained output parseable and inside the schema, with an image too', async () => {
    const schema = {
      type: 'object',
      properties: { title: { type: 'string', minLength: 1, maxLength: 30 }, tags: { type: 'array', items: { type: 'string', maxLength: 12 }, maxItems: 3 } },
      required: ['title', 'tags'],
      additionalProperties: false,
    };
    for (let seed = 1; seed <= 6; seed++) {
      const images = seed % 2 ? [image(IMG_A, fx.images.png32)] : [];
      const req = { ...request([user('Describe this product as JSON.', images)], { temperature: 1, topK: 0, seed, maxTokens: 200 }, `json-${seed}`), responseFormat: { type: 'json_schema' as const, schema } };
      const r = await collect(engine, req);
      expect(r.terminal.type).toBe('done');
      if (r.terminal.type !== 'done') return;
      const value = JSON.parse(r.terminal.text) as { title: string; tags: string[] };
      expect(Object.keys(value).sort()).toEqual(['tags', 'title']);
      // The grammar counts code points; random weights also emit stray UTF-8 bytes, shown as U+FFFD.
      expect([...value.title.replace(/\uFFFD/g, '')].length).toBeLessThanOrEqual(30);
      expect(value.tags.length).toBeLessThanOrEqual(3);
    }
    const free = await collect(engine, request([user('Describe this product as JSON.')], { temperature: 1, topK: 0, seed: 2, maxTokens: 40 }, 'json-free'));
    expect(() => JSON.parse(free.terminal.type === 'done' ? free.terminal.text : '')).toThrow();
  });

  it('streams an answer about an image, reporting phases and the image the model saw', async () => {
    const r = await collect(engine, request([user('What is in this picture?', [image(IMG_A, fx.images.png32)])]));
    expect(r.terminal.type).toBe('done');
    if (r.terminal.type !== 'done') return;
    const phases = r.events.filter((e) => e.type === 'phase').map((e) => (e.type === 'phase' ? e.phase : ''));
    expect(phases).toEqual(['encoding-image', 'generating']);
    expect(r.events.find((e) => e.type === 'image')).toEqual({ type: 'image', attachmentId: IMG_A, ignoredAttachmentIds: [] });
    expect(r.deltas.length).toBeGreaterThan(0);
    expect(r.deltas).toBe(r.terminal.text);
    expect(r.terminal.usage.completionTokens).toBeGreaterThan(0);
    expect(r.terminal.usage.promptTokens).toBeGreaterThan(10);
    expect(r.terminal.timings.ttftMs).toBeGreaterThan(0);
  });

  it('answers text-only questions', async () => {
    const r = await collect(engine, request([user('Write a title for a red mug.')], {}, 'text-only'));
    expect(r.terminal.type).toBe('done');
    expect(r.events.some((e) => e.type === 'phase' && e.phase === 'encoding-image')).toBe(false);
    expect(r.events.find((e) => e.type === 'image')).toEqual({ type: 'image', attachmentId: null, ignoredAttachmentIds: [] });
    expect(r.deltas.length).toBeGreaterThan(0);
  });

  it('gives the same answer for the same seed (greedy)', async () => {
    // The same request before each keeps the KV cache state equal: a different cached prefix
    // changes float rounding, which can flip near-ties in a random-weight model.
    await collect(engine, request([user('Something else entirely')], {}, 'other'));
    const a = await collect(engine, request([user('Seeded question one')], {}, 'seed-a'));
    await collect(engine, request([user('Something else entirely')], {}, 'other'));
    const b = await collect(engine, request([user('Seeded question one')], {}, 'seed-b'));
    expect(a.deltas.length).toBeGreaterThan(0);
    expect(a.deltas).toBe(b.deltas);
  });

  it('a follow-up reuses the KV cache and does not re-encode the image', async () => {
    const first = await collect(engine, request([user('Describe it.', [image(IMG_A, fx.images.png64x48)])], {}, 'kv'));
    expect(first.terminal.type).toBe('done');
    if (first.terminal.type !== 'done') return;
    const second = await collect(
      engine,
      request([user('Describe it.', [image(IMG_A, fx.images.png64x48)]), assistant(first.terminal.text), user('Shorter please.')], {}, 'kv'),
    );
    expect(second.terminal.type).toBe('done');
    if (second.terminal.type !== 'done') return;
    expect(second.events.some((e) => e.type === 'phase' && e.phase === 'encoding-image')).toBe(false);
    // At least the whole first prompt (system, image, question) comes from the cache.
    expect(second.terminal.usage.cachedTokens).toBeGreaterThanOrEqual(first.terminal.usage.promptTokens - 1);
  });

  it('a frequency penalty makes a repetitive answer repeat less', async () => {
    const distinctRatio = (text: string): number => {
      const words = text.split(/\s+/).filter(Boolean);
      return new Set(words).size / Math.max(1, words.length);
    };
    const plain = await collect(engine, request([user('List the colours.')], { maxTokens: 48 }, 'pen-0'));
    const penalized = await collect(engine, request([user('List the colours.')], { maxTokens: 48, frequencyPenalty: 1.5, presencePenalty: 1 }, 'pen-1'));
    expect(plain.terminal.type).toBe('done');
    expect(penalized.terminal.type).toBe('done');
    expect(penalized.deltas).not.toBe(plain.deltas);
    expect(distinctRatio(penalized.deltas)).toBeGreaterThan(distinctRatio(plain.deltas));
  });

  it('only the latest image reaches the model', async () => {
    const r = await collect(
      engine,
      request([user('First photo', [image(IMG_A, fx.images.png32)]), assistant('A gradient.'), user('Second photo', [image(IMG_B, fx.images.png64x48)])], {}, 'two'),
    );
    expect(r.terminal.type).toBe('done');
    expect(r.events.find((e) => e.type === 'image')).toEqual({ type: 'image', attachmentId: IMG_B, ignoredAttachmentIds: [IMG_A] });
  });
});

describe('stop', () => {
  it('stops mid-stream, keeps the partial text, and the next request works', async () => {
    const controller = new AbortController();
    const r = await collect(
      engine,
      request([user('Tell me a very long story.')], { maxTokens: 400 }, 'stop'),
      (e) => {
        if (e.type === 'delta') controller.abort();
      },
      controller.signal,
    );
    expect(r.terminal.type).toBe('done');
    if (r.terminal.type !== 'done') return;
    expect(r.terminal.finishReason).toBe('cancelled');
    expect(r.terminal.usage.completionTokens).toBeLessThan(400);
    expect(r.terminal.text.startsWith(r.deltas.slice(0, 1))).toBe(true);

    const next = await collect(engine, request([user('Are you still there?')], {}, 'after-stop'));
    expect(next.terminal.type).toBe('done');
  });

  it('a request stopped while queued never runs', async () => {
    const controller = new AbortController();
    // Every slot busy, so the next one waits.
    const slots = engine.status().slots?.total ?? 1;
    const running = Array.from({ length: slots }, (_, i) => collect(engine, request([user('Busy work')], { maxTokens: 64 }, `q1-${i}`)));
    const queued = collect(engine, request([user('Queued work')], {}, 'q2'), undefined, controller.signal);
    controller.abort();
    const [b, ...a] = await Promise.all([queued, ...running]);
    for (const r of a) expect(r.terminal.type).toBe('done');
    if (!b) throw new Error('unreachable');
    expect(b.terminal).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
    expect(b.events.some((e) => e.type === 'delta')).toBe(false);
  });
});

describe('bad images that reach the engine', () => {
  // The attachment store rejects these first; this proves the engine survives them anyway.
  it.each([
    ['truncated PNG', () => fx.images.truncatedPng],
    ['non-image bytes', () => fx.images.notAnImage],
    ['zero-byte file', () => fx.images.emptyPng],
  ])('%s: clear error, engine still usable', async (_name, path) => {
    const pid = engine.workerPid();
    const r = await collect(engine, request([user('What is this?', [image(IMG_B, path())])], {}, 'bad-image'));
    expect(r.terminal).toMatchObject({ type: 'error', error: { code: 'IMAGE_INVALID' } });
    // Refused before the completion, so the model is not reloaded (seconds on a real model).
    expect(r.events).not.toContainEqual({ type: 'phase', phase: 'loading-model' });
    expect(engine.workerPid()).toBe(pid);
    const next = await collect(engine, request([user('And this one?', [image(IMG_A, fx.images.png32)])], {}, 'good-image'));
    expect(next.terminal.type).toBe('done');
    expect(next.deltas.length).toBeGreaterThan(0);
  });
});

describe('worker crash', () => {
  it('SIGKILL mid-stream fails that request clearly; the next one restarts the worker and answers', async () => {
    const pid = engine.workerPid();
    expect(pid).toBeGreaterThan(0);
    const statuses: string[] = [];
    const off = engine.onStatus((s) => statuses.push(s.state));
    const r = await collect(engine, request([user('Long answer please')], { maxTokens: 400 }, 'crash'), (e) => {
      if (e.type === 'delta' && pid) process.kill(pid, 'SIGKILL');
    });
    expect(r.terminal).toMatchObject({ type: 'error', error: { code: 'ENGINE_CRASHED' } });
    if (r.terminal.type === 'error') expect(r.terminal.error.message).toMatch(/SIGKILL/);
    expect(engine.status().state).toBe('error');

    const next = await collect(engine, request([user('Hello again', [image(IMG_A, fx.images.png32)])], {}, 'crash'));
    off();
    expect(next.terminal.type).toBe('done');
    expect(next.events[0]).toEqual({ type: 'phase', phase: 'loading-model' });
    expect(engine.workerPid()).not.toBe(pid);
    expect(engine.status().state).toBe('ready');
    // Slot counts re-announce 'ready'; the transitions are what the user sees.
    expect(statuses.filter((s, i) => s !== statuses[i - 1] && !(i === 0 && s === 'ready'))).toEqual(['error', 'loading', 'ready']);
  });
});

describe('model validation before load', () => {
  it.each([
    ['truncated model', () => fx.broken.truncatedModel, /truncated/i],
    ['bad magic', () => fx.broken.badMagic, /not a GGUF/i],
    ['empty file', () => fx.broken.empty, /empty/i],
    ['unsupported version', () => fx.broken.badVersion, /version/i],
    ['mmproj given as the model', () => fx.broken.mmprojAsModel, /projector|clip/i],
    ['wrong architecture', () => fx.broken.wrongArchModel, /gpt2/i],
  ])('%s: clear error naming the file, host alive, next good load works', async (_name, file, reason) => {
    const fresh = startEngine();
    try {
      const r = await fresh.load({ model: file(), mmproj: fx.pair.mmproj });
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe('MODEL_INVALID');
      expect(r.error.message).toContain(basename(file()));
      expect(r.error.message).toMatch(reason);
      expect(fresh.status().state).toBe('error');
      // Never reached llama.cpp: no worker was even started.
      expect(fresh.workerPid()).toBeUndefined();
      const good = await fresh.load(fx.pair);
      expect(good.ok).toBe(true);
      const answer = await collect(fresh, request([user('Hi')], {}, 'after-bad-load'));
      expect(answer.terminal.type).toBe('done');
    } finally {
      await fresh.dispose();
    }
  });

  it('a projector of the wrong width is refused as not a pair', async () => {
    const fresh = startEngine();
    try {
      const r = await fresh.load({ model: fx.pair.model, mmproj: fx.broken.mismatchedMmproj });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('MODEL_INVALID');
        expect(r.error.message).toContain(basename(fx.broken.mismatchedMmproj));
        expect(r.error.message).toMatch(/not a pair/i);
      }
    } finally {
      await fresh.dispose();
    }
  });
});

describe('stop while the image is being encoded', () => {
  it('takes effect when encoding ends: the answer stops at once and says cancelled', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'firellava-336-'));
    const fresh = startEngine();
    try {
      // LLaVA-1.5's real geometry: a 336 px image becomes 576 tokens.
      const pair = await writeLlavaPair(dir, { text: { nCtx: 2048 }, vision: { nEmbd: 64, nLayer: 6, nHead: 4, nFf: 256, imageSize: 336, patchSize: 14 } });
      const photo = path.join(dir, 'photo.png');
      await writeFile(photo, gradientPng(336, 336));
      expect((await fresh.load(pair)).ok).toBe(true);
      const controller = new AbortController();
      const r = await collect(
        fresh,
        request([user('Describe the product.', [image(IMG_A, photo)])], { maxTokens: 1000 }, 'encode-stop'),
        (e) => {
          if (e.type === 'phase' && e.phase === 'encoding-image') controller.abort();
        },
        controller.signal,
      );
      expect(r.terminal).toMatchObject({ type: 'done', finishReason: 'cancelled' });
      if (r.terminal.type === 'done') {
        expect(r.terminal.usage.promptTokens).toBeGreaterThan(576);
        expect(r.terminal.usage.completionTokens).toBeLessThan(10);
      }
      const next = await collect(fresh, request([user('Again, shorter.', [image(IMG_A, photo)])], { maxTokens: 8 }, 'encode-stop-2'));
      expect(next.terminal.type).toBe('done');
    } finally {
      await fresh.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
