import { describe, expect, it } from 'vitest';
import { f16ToF32, f32ArrayToF16, f32ToF16 } from '../../electron/gguf/gguf-writer';

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

describe('float32 -> float16', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite half
    [65519.99, 0x7bff], // just below the rounding midpoint to inf
    [65520, 0x7c00], // midpoint rounds to even, which is inf
    [1e10, 0x7c00],
    [-1e10, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // exactly half of it: ties to even (0)
    [2 ** -25 * 1.0000001, 0x0001], // just above half rounds up
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: tie to even (2)
    [2 ** -26, 0x0000],
    [(2 ** -14) * (1 - 2 ** -11), 0x0400], // largest subnormal + half step rounds into the normals
    [1 + 2 ** -11, 0x3c00], // tie between 1 and next: even (1)
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 1+2^-10 and 1+2^-9: even (the latter)
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie rounds up
    [0.1, 0x2e66],
    [0.02, 0x251f],
    [-3.14159, 0xc248],
  ])('%d -> %s', (value, expected) => {
    expect(hex(f32ToF16(value))).toBe(hex(expected));
  });

  it('keeps NaN a NaN', () => {
    const h = f32ToF16(NaN);
    expect(h & 0x7c00).toBe(0x7c00);
    expect(h & 0x3ff).not.toBe(0);
    expect(Number.isNaN(f16ToF32(h))).toBe(true);
  });

  it('round-trips every finite half exactly', () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) !== 0x7c00 && f32ToF16(f16ToF32(h)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('picks the nearest half on random values', () => {
    // Property: the result is the nearest of its neighbouring halves, ties going to the even one.
    const ref = (x: number): number => {
      const f = Math.fround(x);
      let best = 0;
      let bestErr = Infinity;
      const start = f32ToF16(f) & 0x7fff;
      for (const cand of [start - 1, start, start + 1]) {
        if (cand < 0 || cand > 0x7c00) continue;
        const v = f16ToF32(cand);
        const err = Math.abs(Math.abs(f) - v);
        if (err < bestErr || (err === bestErr && (cand & 1) === 0)) {
          best = cand;
          bestErr = err;
        }
      }
      return (f < 0 || Object.is(f, -0) ? 0x8000 : 0) | best;
    };
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const bad: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const x = (rand() - 0.5) * 2 ** Math.floor(rand() * 40 - 28);
      if (f32ToF16(x) !== ref(x)) bad.push(`${x}: ${hex(f32ToF16(x))} vs ${hex(ref(x))}`);
    }
    expect(bad).toEqual([]);
  });

  it('converts arrays like single values', () => {
    const src = new Float32Array([0, 1, -2, 65520, 2 ** -25, 0.1]);
    expect([...f32ArrayToF16(src)]).toEqual([...src].map((v) => f32ToF16(v)));
  });
});
