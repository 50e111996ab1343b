// Q8_0 / Q4_0 against ggml's formulas: block byte layout, round-trip error bounds, edge cases.
import { describe, expect, test } from 'vitest';
import { Q4_0_BLOCK_BYTES, Q8_0_BLOCK_BYTES, dequantizeQ4_0, dequantizeQ8_0, f32ToF16Array, quantizeQ4_0, quantizeQ8_0 } from '../../electron/convert/quantize';
import { GgmlType, tensorByteSize } from '../../electron/gguf/ggml-types';
import { f16ToF32, f32ToF16 } from '../../electron/gguf/gguf-writer';
import { randomValues } from './quant-values';

const scaleOf = (bytes: Uint8Array, block: number, size: number): number => f16ToF32((bytes[block * size] as number) | ((bytes[block * size + 1] as number) << 8));

describe('Q8_0', () => {
  test('block layout: f16 scale amax/127, then 32 int8 values round(x / d)', () => {
    const x = new Float32Array(32).map((_, i) => (i % 2 ? -1 : 1) * (i * 4 + 3)); // amax 127
    const q = quantizeQ8_0(x);
    expect(q.length).toBe(Q8_0_BLOCK_BYTES);
    expect(Q8_0_BLOCK_BYTES).toBe(tensorByteSize(GgmlType.Q8_0, [32]));
    expect([q[0], q[1]]).toEqual([0x00, 0x3c]); // d = 1.0 in f16
    expect(Array.from(new Int8Array(q.buffer, 2, 32))).toEqual(Array.from(x));
  });

  test('rounds halves away from zero like C roundf', () => {
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.49;
    const q = new Int8Array(quantizeQ8_0(x).buffer, 2, 32);
    expect([q[0], q[1], q[2], q[3]]).toEqual([127, 3, -3, 0]);
  });

  test('round trip stays within d/2 plus the f16 rounding of d', () => {
    const x = randomValues(32 * 64, 1, 0.3);
    const q = quantizeQ8_0(x);
    const y = dequantizeQ8_0(q, x.length);
    for (let b = 0; b < 64; b++) {
      const block = x.subarray(b * 32, b * 32 + 32);
      const amax = Math.max(...Array.from(block, Math.abs));
      const d = scaleOf(q, b, Q8_0_BLOCK_BYTES);
      expect(Math.abs(d - amax / 127)).toBeLessThanOrEqual((amax / 127) * 2 ** -11 + 1e-12);
      for (let j = 0; j < 32; j++) expect(Math.abs((y[b * 32 + j] as number) - (block[j] as number))).toBeLessThanOrEqual(d / 2 + amax * 2 ** -10);
    }
  });

  test('an all-zero block has scale 0 and decodes to zeros; lengths must be whole blocks', () => {
    const q = quantizeQ8_0(new Float32Array(32));
    expect(Array.from(q)).toEqual(new Array(34).fill(0));
    expect(Array.from(dequantizeQ8_0(q, 32))).toEqual(new Array(32).fill(0));
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(/whole number/);
  });
});

describe('Q4_0', () => {
  test('block layout: f16 scale max/-8, byte j = q[j] | q[j+16] << 4, q = min(15, trunc(x/d + 8.5))', () => {
    const x = new Float32Array(32);
    x[0] = -8; // the largest magnitude, negative: d = -8 / -8 = 1
    x[1] = 7;
    x[2] = 0.5;
    x[3] = -0.5;
    x[16] = 7.9; // would be 16: clamped to 15
    x[17] = -3;
    const q = quantizeQ4_0(x);
    expect(q.length).toBe(Q4_0_BLOCK_BYTES);
    expect(Q4_0_BLOCK_BYTES).toBe(tensorByteSize(GgmlType.Q4_0, [32]));
    expect([q[0], q[1]]).toEqual([0x00, 0x3c]);
    const lo = (j: number): number => (q[2 + j] as number) & 0x0f;
    const hi = (j: number): number => (q[2 + j] as number) >>> 4;
    expect([lo(0), lo(1), lo(2), lo(3), lo(4)]).toEqual([0, 15, 9, 8, 8]);
    expect([hi(0), hi(1), hi(2)]).toEqual([15, 5, 8]);
  });

  test('a positive maximum gives a negative scale, as in ggml', () => {
    const x = new Float32Array(32);
    x[5] = 4;
    x[6] = -1;
    const q = quantizeQ4_0(x);
    expect(scaleOf(q, 0, Q4_0_BLOCK_BYTES)).toBe(-0.5);
    const y = dequantizeQ4_0(q, 32);
    expect(y[5]).toBe(4);
    expect(y[6]).toBe(-1);
  });

  test('round trip: within |d|/2 on the side of the maximum, within |d| everywhere', () => {
    const x = randomValues(32 * 64, 2, 0.05);
    const q = quantizeQ4_0(x);
    const y = dequantizeQ4_0(q, x.length);
    for (let b = 0; b < 64; b++) {
      const block = x.subarray(b * 32, b * 32 + 32);
      const d = scaleOf(q, b, Q4_0_BLOCK_BYTES);
      const ad = Math.abs(d);
      const slack = ad * 2 ** -9;
      for (let j = 0; j < 32; j++) {
        const v = block[j] as number;
        const err = Math.abs((y[b * 32 + j] as number) - v);
        expect(err).toBeLessThanOrEqual(ad + slack);
        // The grid reaches -8d on the maximum's side but only 7d on the other.
        if (Math.sign(v) === Math.sign(-d) || Math.abs(v) <= 7 * ad) expect(err).toBeLessThanOrEqual(ad / 2 + slack * 8);
      }
    }
  });
});

describe('fast F16 encoding', () => {
  test('bit-identical to the reference rounding on random, tie, subnormal, overflow and special values', () => {
    const special = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, 6.1e-5, 6.0e-5, 5.96e-8, 1e-9, Infinity, -Infinity, NaN, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -14, 2 ** -14 - 2 ** -30];
    const x = new Float32Array([...special, ...randomValues(4096, 3, 10), ...randomValues(4096, 4, 1e-4)]);
    const fast = f32ToF16Array(x);
    for (let i = 0; i < x.length; i++) expect(fast[i], `value ${x[i]}`).toBe(f32ToF16(x[i] as number));
  });
});
