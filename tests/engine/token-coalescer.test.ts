import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenCoalescer } from '../../electron/engine/token-coalescer';

describe('TokenCoalescer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends the first token at once, then batches by interval, and loses nothing on flush', () => {
    const sent: string[] = [];
    const c = new TokenCoalescer((t) => sent.push(t), 16);
    c.push('Hel');
    expect(sent).toEqual(['Hel']);
    for (const t of ['lo', ',', ' wor', 'ld']) c.push(t);
    expect(sent).toEqual(['Hel']);
    vi.advanceTimersByTime(16);
    expect(sent).toEqual(['Hel', 'lo, world']);
    c.push('!');
    c.flush();
    expect(sent.join('')).toBe('Hello, world!');
  });

  it('1,000 tokens inside 100 ms cross the boundary in a handful of messages', () => {
    const sent: string[] = [];
    const c = new TokenCoalescer((t) => sent.push(t), 16);
    for (let i = 0; i < 1000; i++) {
      c.push('x');
      if (i % 10 === 9) vi.advanceTimersByTime(1);
    }
    c.flush();
    expect(sent.join('')).toHaveLength(1000);
    expect(sent.length).toBeLessThanOrEqual(1 + Math.ceil(100 / 16) + 1);
  });
});
