// Slots and the per-conversation KV cache on disk, on the real engine and the tiny pair.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineTurn } from '../../electron/engine/engine';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { conversationStem } from '../../electron/engine/kv-cache';
import type { GenerateEvent } from '../../electron/shared/types';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { assistant, collect, request, startEngine, user } from '../helpers/engine';

let fx: Fixtures;
let dir: string;
const engines: LocalEngine[] = [];

beforeAll(async () => {
  fx = await getFixtures();
  dir = await mkdtemp(path.join(os.tmpdir(), 'firellava-kv-test-'));
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
  await rm(dir, { recursive: true, force: true });
});

async function started(cacheDir: string, options: { cacheCapBytes?: number; pair?: Fixtures['pair'] } = {}): Promise<LocalEngine> {
  const engine = startEngine({ cacheDir, ...(options.cacheCapBytes ? { cacheCapBytes: options.cacheCapBytes } : {}) });
  engines.push(engine);
  expect((await engine.load(options.pair ?? fx.pair)).ok).toBe(true);
  return engine;
}

type Done = Extract<GenerateEvent, { type: 'done' }>;

/** One turn of a conversation: asks, returns the answer, and extends the history with it. */
async function turn(engine: LocalEngine, id: string, history: EngineTurn[], text: string, withImage = false): Promise<Done & { encoded: boolean }> {
  history.push(user(text, withImage ? [{ id: 'a'.repeat(64), path: fx.images.png32 }] : []));
  const r = await collect(engine, request([...history], { maxTokens: 10 }, id));
  if (r.terminal.type !== 'done') throw new Error(`turn failed: ${JSON.stringify(r.terminal)}`);
  history.push(assistant(r.terminal.text));
  return { ...r.terminal, encoded: r.events.some((e) => e.type === 'phase' && e.phase === 'encoding-image') };
}

const QUESTIONS = Array.from({ length: 10 }, (_, i) => `Question number ${i + 1}?`);

describe('slots', () => {
  it('two conversations alternating 10 turns answer as each alone, and only the first turn of each prefills', async () => {
    const engine = await started(path.join(dir, 'alternate'));
    const solo = async (id: string, image: boolean) => {
      const h: EngineTurn[] = [];
      const out: string[] = [];
      for (const [i, q] of QUESTIONS.entries()) out.push((await turn(engine, id, h, q, image && i === 0)).text);
      return out;
    };
    const aloneA = await solo('solo-a', true);
    const aloneB = await solo('solo-b', false);

    const ha: EngineTurn[] = [];
    const hb: EngineTurn[] = [];
    let prevA: Done | null = null;
    let prevB: Done | null = null;
    for (const [i, q] of QUESTIONS.entries()) {
      const a = await turn(engine, 'alt-a', ha, q, i === 0);
      const b = await turn(engine, 'alt-b', hb, q);
      expect(a.text).toBe(aloneA[i]);
      expect(b.text).toBe(aloneB[i]);
      if (prevA && prevB) {
        // The whole previous prompt came back from the conversation's state; the image was not re-encoded.
        expect(a.usage.cachedTokens).toBeGreaterThanOrEqual(prevA.usage.promptTokens - 1);
        expect(b.usage.cachedTokens).toBeGreaterThanOrEqual(prevB.usage.promptTokens - 1);
        expect(a.encoded).toBe(false);
      } else {
        expect(a.usage.cachedTokens).toBe(0);
      }
      prevA = a;
      prevB = b;
    }
  });

  it('cancelling one of two running answers leaves the other unchanged', async () => {
    const engine = await started(path.join(dir, 'cancel'));
    expect(engine.status().slots?.total).toBeGreaterThan(1);
    const solo = await collect(engine, request([user('Tell me a long story.')], { maxTokens: 120 }, 'long-solo'));
    const controller = new AbortController();
    const [stopped, other] = await Promise.all([
      collect(engine, request([user('Another story, please.')], { maxTokens: 120 }, 'stop-me'), (e) => e.type === 'delta' && controller.abort(), controller.signal),
      collect(engine, request([user('Tell me a long story.')], { maxTokens: 120 }, 'long')),
    ]);
    expect(stopped.terminal).toMatchObject({ type: 'done', finishReason: 'cancelled' });
    expect(other.terminal.type).toBe('done');
    expect(other.deltas).toBe(solo.deltas);
  });
});

describe('cache on disk', () => {
  /** A conversation with an image, answered once on a first engine; returns its history and files. */
  async function saved(cacheDir: string, id: string) {
    const engine = await started(cacheDir);
    const history: EngineTurn[] = [];
    await turn(engine, id, history, 'Describe it.', true);
    await engine.dispose();
    const stem = conversationStem(cacheDir, id);
    expect((await stat(`${stem}.state`)).size).toBeGreaterThan(0);
    return { history, stem };
  }

  /** The second turn on a cold engine without any cache: what every rejected state must still answer. */
  async function reference(history: EngineTurn[]): Promise<string> {
    const engine = await started(path.join(dir, `ref-${Math.random()}`));
    return (await turn(engine, 'ref', [...history], 'And the colours?')).text;
  }

  it('after a restart the next turn loads the state: cached tokens, no image re-encode, same answer', async () => {
    const cacheDir = path.join(dir, 'restart');
    const { history } = await saved(cacheDir, 'r1');
    const expected = await reference(history);
    const engine = await started(cacheDir);
    const next = await turn(engine, 'r1', history, 'And the colours?');
    expect(next.usage.cachedTokens).toBeGreaterThan(0);
    expect(next.encoded).toBe(false);
    expect(next.text).toBe(expected);
  });

  const corruptions: [string, (stem: string) => Promise<void>][] = [
    ['truncated', async (stem) => {
      const bytes = await readFile(`${stem}.state`);
      await writeFile(`${stem}.state`, bytes.subarray(0, bytes.length >> 1));
    }],
    ['byte-flipped', async (stem) => {
      const bytes = await readFile(`${stem}.state`);
      bytes[bytes.length - 9] = (bytes[bytes.length - 9] ?? 0) ^ 0xff;
      await writeFile(`${stem}.state`, bytes);
    }],
    ['header rewritten', async (stem) => writeFile(`${stem}.json`, '{"v":1')],
  ];

  it.each(corruptions)('a %s state is rejected and deleted; the answer is the cold one', async (name, corrupt) => {
    const cacheDir = path.join(dir, `bad-${name.replace(/\W/g, '')}`);
    const { history, stem } = await saved(cacheDir, 'c1');
    const expected = await reference(history);
    await corrupt(stem);
    const engine = await started(cacheDir);
    const next = await turn(engine, 'c1', history, 'And the colours?');
    expect(next.usage.cachedTokens).toBe(0);
    expect(next.text).toBe(expected);
  });

  it("another model's state is never loaded", async () => {
    const cacheDir = path.join(dir, 'foreign');
    const { history } = await saved(cacheDir, 'f1');
    const engine = await started(cacheDir, { pair: fx.pairF16 });
    const next = await turn(engine, 'f1', history, 'And the colours?');
    expect(next.usage.cachedTokens).toBe(0);
    const cold = await started(path.join(dir, 'foreign-ref'), { pair: fx.pairF16 });
    expect(next.text).toBe((await turn(cold, 'x', [...history.slice(0, -1)], 'And the colours?')).text);
  });

  it('an edited history does not load the old state', async () => {
    const cacheDir = path.join(dir, 'edited');
    const { history } = await saved(cacheDir, 'e1');
    const first = history[0] as EngineTurn;
    const edited = [{ ...first, text: 'Describe it differently.' }, history[1] as EngineTurn];
    const expected = await reference(edited);
    const engine = await started(cacheDir);
    const next = await turn(engine, 'e1', edited, 'And the colours?');
    expect(next.usage.cachedTokens).toBe(0);
    expect(next.text).toBe(expected);
  });
});

describe('cache budget', () => {
  it('past the cap the least recently used states go; deleting a conversation deletes its state', async () => {
    const probeDir = path.join(dir, 'cap-probe');
    const probe = await started(probeDir);
    await turn(probe, 'p', [], 'Same length question.');
    await probe.refreshCacheSize();
    const one = (await stat(`${conversationStem(probeDir, 'p')}.state`)).size;

    const cacheDir = path.join(dir, 'cap');
    const engine = await started(cacheDir, { cacheCapBytes: Math.floor(one * 2.5) });
    for (const id of ['old', 'mid', 'new']) {
      await turn(engine, id, [], 'Same length question.');
      await engine.refreshCacheSize();
    }
    expect(engine.status().kvCache?.bytes).toBeLessThanOrEqual(Math.floor(one * 2.5));
    const has = async (id: string) => (await readdir(cacheDir).catch(() => [] as string[])).some((n) => path.join(cacheDir, n).startsWith(`${conversationStem(cacheDir, id)}.state`));
    expect(await has('old')).toBe(false);
    expect(await has('mid')).toBe(true);
    expect(await has('new')).toBe(true);

    await engine.forgetConversation('mid');
    expect(await has('mid')).toBe(false);
    expect(await engine.clearKvCache()).toBe(0);
    expect(await has('new')).toBe(false);
  });
});
