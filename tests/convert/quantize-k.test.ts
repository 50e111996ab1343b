// Q4_K / Q6_K / Q5_0 against ggml's block formats: byte layout of constructed blocks whose
// scales are known, the 6-bit scale/min packing, round-trip error bounds, and the encoder path
// the converter uses (row by row, rotary permutation, F16 input).
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { encodeTask } from '../../electron/convert/encode-pool';
import { permuteRotaryRows } from '../../electron/convert/permute';
import { Q4_0_BLOCK_BYTES, Q5_0_BLOCK_BYTES, dequantizeQ4_0, dequantizeQ5_0, encodeAs, quantizeQ4_0, quantizeQ5_0 } from '../../electron/convert/quantize';
import { Q4_K_BLOCK_BYTES, Q6_K_BLOCK_BYTES, dequantizeQ4_K, dequantizeQ6_K, q4KScaleMin, quantizeQ4_K, quantizeQ6_K } from '../../electron/convert/quantize-k';
import { GgmlType, tensorByteSize } from '../../electron/gguf/ggml-types';
import { f16ToF32, f32ArrayToF16 } from '../../electron/gguf/gguf-writer';
import { randomValues } from './quant-values';

const half = (b: Uint8Array, o: number): number => f16ToF32((b[o] as number) | ((b[o + 1] as number) << 8));
const rms = (a: Float32Array, b: Float32Array): number => Math.sqrt(a.reduce((s, v, i) => s + (v - (b[i] as number)) ** 2, 0) / a.length);

test('block sizes agree with the GGUF type table', () => {
  expect(Q4_K_BLOCK_BYTES).toBe(tensorByteSize(GgmlType.Q4_K, [256]));
  expect(Q6_K_BLOCK_BYTES).toBe(tensorByteSize(GgmlType.Q6_K, [256]));
  expect(Q5_0_BLOCK_BYTES).toBe(tensorByteSize(GgmlType.Q5_0, [32]));
  expect(encodeAs(GgmlType.Q4_K, new Float32Array(512)).length).toBe(2 * 144);
  expect(encodeAs(GgmlType.Q6_K, new Float32Array(512)).length).toBe(2 * 210);
  expect(() => quantizeQ4_K(new Float32Array(300))).toThrow(/256-value/);
  expect(() => encodeAs(GgmlType.Q6_K, new Float32Array(288))).toThrow(/256/);
});

describe('Q4_K', () => {
  // Sub-block j holds x = a_j*q - b_j for q = 0..15 (each twice), with a_j, b_j chosen as known
  // multiples of the largest: the 6-bit scales and mins must come out as exactly those integers.
  const LS = [63, 17, 48, 5, 33, 62, 16, 1];
  const LM = [0, 63, 32, 47, 15, 16, 60, 3];
  const A = 0.02;
  const B = 0.1;
  const qOf = (j: number, l: number): number => (l * 7 + j * 3) % 16;
  const block = new Float32Array(256);
  for (let j = 0; j < 8; j++) {
    for (let l = 0; l < 32; l++) block[32 * j + l] = ((A * (LS[j] as number)) / 63) * qOf(j, l) - ((B * (LM[j] as number)) / 63);
  }
  const q = quantizeQ4_K(block);

  test('d and dmin are the largest scale and min over 63, as f16 in bytes 0-3', () => {
    expect(q.length).toBe(144);
    expect(half(q, 0)).toBeCloseTo(A / 63, 6);
    expect(half(q, 2)).toBeCloseTo(B / 63, 6);
  });

  test('12 scale bytes: 6-bit scales and mins, high bits of sub-blocks 4-7 in the top bits of bytes 0-7', () => {
    const expected: number[] = [];
    for (let j = 0; j < 4; j++) expected[j] = (LS[j] as number) | (((LS[j + 4] as number) >> 4) << 6);
    for (let j = 0; j < 4; j++) expected[j + 4] = (LM[j] as number) | (((LM[j + 4] as number) >> 4) << 6);
    for (let j = 0; j < 4; j++) expected[j + 8] = ((LS[j + 4] as number) & 15) | (((LM[j + 4] as number) & 15) << 4);
    expect(Array.from(q.subarray(4, 16))).toEqual(expected);
    for (let j = 0; j < 8; j++) expect(q4KScaleMin(q, 4, j)).toEqual([LS[j], LM[j]]);
  });

  test('nibbles: byte 16 + 32c + l holds q[64c + l] (low) and q[64c + l + 32] (high)', () => {
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const byte = q[16 + 32 * c + l] as number;
        expect(byte & 15).toBe(qOf(2 * c, l));
        expect(byte >> 4).toBe(qOf(2 * c + 1, l));
      }
    }
    const y = dequantizeQ4_K(q, 256);
    for (let i = 0; i < 256; i++) expect(Math.abs((y[i] as number) - (block[i] as number))).toBeLessThan(2e-4);
  });

  test('round trip: inside each sub-block range within half a step; overall closer than Q4_0', () => {
    const x = randomValues(256 * 32, 7, 0.02);
    const qk = quantizeQ4_K(x);
    const y = dequantizeQ4_K(qk, x.length);
    for (let b = 0; b < 32; b++) {
      const o = b * 144;
      const d = half(qk, o);
      const dmin = half(qk, o + 2);
      for (let j = 0; j < 8; j++) {
        const [sc, m] = q4KScaleMin(qk, o + 4, j);
        const step = d * sc;
        const lo = -dmin * m;
        for (let l = 0; l < 32; l++) {
          const i = b * 256 + 32 * j + l;
          const v = x[i] as number;
          const err = Math.abs((y[i] as number) - v);
          if (v >= lo && v <= lo + 15 * step) expect(err).toBeLessThanOrEqual(step / 2 + 1e-6);
          else expect(err).toBeLessThanOrEqual(Math.max(lo - v, v - lo - 15 * step) + 1e-6); // clipped: to the nearest end
        }
      }
    }
    const e4k = rms(x, y);
    const e40 = rms(x, dequantizeQ4_0(quantizeQ4_0(x), x.length));
    expect(e4k).toBeLessThan(e40);
    expect(e4k / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length)).toBeLessThan(0.08);
  });

  test('an all-zero super-block is all zeros', () => {
    expect(Array.from(quantizeQ4_K(new Float32Array(256)))).toEqual(new Array(144).fill(0));
  });
});

describe('Q6_K', () => {
  // Sub-block j holds x = s_j*(q - 32), q = 0..63 with q = 0 present (the largest magnitude), and
  // s_j = S*k_j/128: the stored int8 scales must be exactly -k_j with d = -S/128 (ggml's sign).
  const K = [128, 5, 77, 64, 1, 100, 33, 127, 90, 2, 45, 66, 8, 120, 19, 50];
  const S = 0.004;
  const qOf = (j: number, t: number): number => (t === 0 ? 0 : (t * 4 + j * 3 + 1) % 64);
  const block = new Float32Array(256);
  for (let j = 0; j < 16; j++) for (let t = 0; t < 16; t++) block[16 * j + t] = ((S * (K[j] as number)) / 128) * (qOf(j, t) - 32);
  const q = quantizeQ6_K(block);
  const Q = (i: number): number => qOf(i >> 4, i & 15);

  test('int8 scales at 192-207 and f16 d last', () => {
    expect(q.length).toBe(210);
    expect(Array.from(new Int8Array(q.buffer, 192, 16))).toEqual(K.map((k) => -k));
    expect(half(q, 208)).toBeCloseTo(-S / 128, 7);
  });

  test('ql: low nibbles of q[l], q[l+64] and q[l+32], q[l+96] per half; qh: their 2 high bits', () => {
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const base = 128 * h + l;
        expect(q[64 * h + l]).toBe((Q(base) & 15) | ((Q(base + 64) & 15) << 4));
        expect(q[64 * h + l + 32]).toBe((Q(base + 32) & 15) | ((Q(base + 96) & 15) << 4));
        expect(q[128 + 32 * h + l]).toBe((Q(base) >> 4) | ((Q(base + 32) >> 4) << 2) | ((Q(base + 64) >> 4) << 4) | ((Q(base + 96) >> 4) << 6));
      }
    }
    const y = dequantizeQ6_K(q, 256);
    for (let i = 0; i < 256; i++) expect(Math.abs((y[i] as number) - (block[i] as number))).toBeLessThan(1e-4);
  });

  test('round trip: within half a step of each sub-block, 4x closer than Q4_0', () => {
    const x = randomValues(256 * 32, 11, 0.02);
    const q6 = quantizeQ6_K(x);
    const y = dequantizeQ6_K(q6, x.length);
    for (let b = 0; b < 32; b++) {
      const d = half(q6, b * 210 + 208);
      for (let j = 0; j < 16; j++) {
        const step = Math.abs(d * ((q6[b * 210 + 192 + j] as number) << 24 >> 24));
        for (let t = 0; t < 16; t++) {
          const i = b * 256 + 16 * j + t;
          const v = x[i] as number;
          const err = Math.abs((y[i] as number) - v);
          // The grid reaches 32 steps on one side, 31 on the other: a clipped value is at most one step off.
          expect(err).toBeLessThanOrEqual(Math.abs(v) <= 31 * step ? step / 2 + 1e-6 : step + 1e-6);
        }
      }
    }
    expect(rms(x, y) * 4).toBeLessThan(rms(x, dequantizeQ4_0(quantizeQ4_0(x), x.length)));
  });

  test('an all-zero super-block is all zeros', () => {
    expect(Array.from(quantizeQ6_K(new Float32Array(256)))).toEqual(new Array(210).fill(0));
  });
});

describe('Q5_0 (llama.cpp falls back to it for Q4_K rows that are not whole super-blocks)', () => {
  test('block layout: f16 d = max/-16, 32 high bits in qh, low nibbles byte j = q[j] | q[j+16] << 4', () => {
    const x = new Float32Array(32);
    x[0] = -16; // d = 1
    x[1] = 15; // q 31: high bit set
    x[2] = 0.5; // 16.5 + 0.5 -> 17
    x[17] = -3; // q 13, high bit clear
    x[18] = 15.9; // 32 -> clamped to 31
    const q = quantizeQ5_0(x);
    expect(q.length).toBe(22);
    expect(half(q, 0)).toBe(1);
    const qOf = (j: number): number => (j < 16 ? (q[6 + j] as number) & 15 : (q[6 + j - 16] as number) >> 4) | ((((q[2 + (j >> 3)] as number) >> (j & 7)) & 1) << 4);
    expect([qOf(0), qOf(1), qOf(2), qOf(3), qOf(17), qOf(18)]).toEqual([0, 31, 17, 16, 13, 31]);
    expect(Array.from(dequantizeQ5_0(q, 32).subarray(0, 3))).toEqual([-16, 15, 1]);
  });

  test('round trip within |d|/2 (|d| on the side the grid does not reach)', () => {
    const x = randomValues(32 * 64, 5, 0.05);
    const q = quantizeQ5_0(x);
    const y = dequantizeQ5_0(q, x.length);
    for (let b = 0; b < 64; b++) {
      const ad = Math.abs(half(q, b * 22));
      for (let j = 0; j < 32; j++) {
        const v = x[b * 32 + j] as number;
        const err = Math.abs((y[b * 32 + j] as number) - v);
        // x/d uses the float32 d, decoding its f16 rounding: up to 16 * 2^-11 |d| more.
        expect(err).toBeLessThanOrEqual(ad + ad * 2 ** -6);
        if (Math.abs(v) <= 15 * ad) expect(err).toBeLessThanOrEqual(ad / 2 + ad * 2 ** -6);
      }
    }
    expect(rms(x, y)).toBeLessThan(rms(x, dequantizeQ4_0(quantizeQ4_0(x), x.length)));
    expect(Q4_0_BLOCK_BYTES).toBeLessThan(Q5_0_BLOCK_BYTES);
  });
});

describe('the converter path (row by row from F16, rotary rows permuted)', () => {
  test.each([
    ['Q4_K', GgmlType.Q4_K],
    ['Q6_K', GgmlType.Q6_K],
    ['Q8_0', GgmlType.Q8_0],
    ['Q5_0', GgmlType.Q5_0],
    ['F16', GgmlType.F16],
  ])('%s: encodeTask equals encoding the decoded, permuted tensor in one piece', (_name, type) => {
    const rows = 8;
    const rowLength = 512;
    const x = randomValues(rows * rowLength, 3, 0.05);
    const h = f32ArrayToF16(x);
    const decoded = Float32Array.from(h, (v) => f16ToF32(v));
    const headDim = 4;
    const expected = encodeAs(type, permuteRotaryRows(decoded, rows, rowLength, headDim));
    const got = encodeTask({ dtype: 'F16', type, raw: new Uint8Array(h.buffer), rows, rowLength, headDim });
    expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true);
  });
});

test('the screened k-quant search writes the same bytes as the plain float32 transcription of ggml', () => {
  // Recorded from quantize-k.ts before the double-precision screening (commit 8a7c49e): Gaussian
  // weights, rare large outliers, mostly zeros, values on a 1/8 grid (ties), all positive.
  const gen = (kind: number, n: number): Float32Array => {
    const f = new Float32Array(n);
    let s = 977 + kind;
    const rnd = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    for (let i = 0; i < n; i++) {
      const g = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
      f[i] = kind === 0 ? g * 0.02 : kind === 1 ? (rnd() < 0.01 ? g * 2 : g * 0.01) : kind === 2 ? (rnd() < 0.7 ? 0 : g) : kind === 3 ? Math.round(g * 8) / 8 : g * 0.02 + 0.05;
    }
    return f;
  };
  const h = createHash('sha256');
  for (let k = 0; k < 5; k++) {
    const x = gen(k, 256 * 64);
    h.update(quantizeQ4_K(x));
    h.update(quantizeQ6_K(x));
  }
  expect(h.digest('hex')).toBe('c3ecd9754f578016b3968dcbd327d3f3118a5b5060bb64a853bb8ec94c78925f');
});

test('edge inputs (overflowing ranges, subnormals, constant and few-valued sub-blocks) keep the plain transcription bytes', () => {
  // Recorded from the plain float32 transcription (commit 8a7c49e): these take the paths where
  // the search's shortcuts must stand aside (infinite or zero ranges, NaN products, ties).
  const n = 256 * 16;
  let s = 4242;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const make = (f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));
  const sets = [
    make(() => (rnd() * 2 - 1) * 3.4e38), // ranges that overflow float32
    make(() => (rnd() < 0.5 ? 3.4e38 : -3.4e38 * rnd())),
    make(() => (rnd() * 2 - 1) * 1e-42), // subnormal
    make(() => (rnd() * 2 - 1) * (rnd() < 0.1 ? 1e-30 : 1e-44)),
    make(() => 1 + Math.floor(rnd() * 4) * 1.2e-7), // a few ulps wide
    make(() => -1 - Math.floor(rnd() * 4) * 1.2e-7),
    make((i) => ((i >> 5) % 3 === 0 ? 0.5 : (i >> 4) % 2 ? -0.5 : rnd() - 0.5)), // constant sub-blocks
    make(() => (rnd() < 0.5 ? 1 : -0.3)), // two values
    make(() => Math.floor(rnd() * 16) * 0.01), // on a 4-bit grid
    make(() => (Math.floor(rnd() * 64) - 32) / 64), // on a 6-bit grid
    make(() => (rnd() < 0.95 ? 0 : rnd() * 2 - 1)), // sparse
    make(() => -rnd() * 1e5), // all negative
    make(() => (rnd() * 2 - 1) * 10 ** (Math.floor(rnd() * 12) - 6)), // mixed magnitudes
  ];
  const h = createHash('sha256');
  for (const x of sets) {
    h.update(quantizeQ4_K(x));
    h.update(quantizeQ6_K(x));
  }
  expect(h.digest('hex')).toBe('1d87e8dc11343c12ce482cdbcc79d1701fb82a947b89dfc5a8d272a8410e5328');
});
