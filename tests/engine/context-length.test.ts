// A prompt longer than the model's context (the tiny model has 512 tokens) is an error, not an empty answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { getFixtures } from '../helpers/fixtures';
import { collect, request, startEngine, user } from '../helpers/engine';

let engine: LocalEngine;

beforeAll(async () => {
  const fx = await getFixtures();
  engine = startEngine();
  expect((await engine.load(fx.pair)).ok).toBe(true);
});

afterAll(async () => {
  await engine?.dispose();
});

const longText = Array.from({ length: 3000 }, (_, i) => `word${i % 50}`).join(' ');

describe('context length', () => {
  it('answers a prompt that does not fit with CONTEXT_FULL, and the engine still answers afterwards', async () => {
    const r = await collect(engine, request([user(longText)], {}, 'too-long'));
    expect(r.terminal).toMatchObject({ type: 'error', error: { code: 'CONTEXT_FULL' } });
    if (r.terminal.type !== 'error') return;
    expect(r.terminal.error.message).toMatch(/longer than the model's context \(512 tokens\)/);
    expect(r.deltas).toBe('');
    const after = await collect(engine, request([user('Hello there')], {}, 'short'));
    expect(after.terminal.type).toBe('done');
  });

  it('keeps an answer the context cut off after it started as done with "context-full"', async () => {
    const r = await collect(engine, request([user('word1 word2 word3')], { maxTokens: 1000 }, 'cut-off'));
    expect(r.terminal).toMatchObject({ type: 'done', finishReason: 'context-full' });
    if (r.terminal.type !== 'done') return;
    expect(r.terminal.text.length).toBeGreaterThan(0);
    expect(r.terminal.usage.completionTokens).toBeGreaterThan(0);
  });
});
