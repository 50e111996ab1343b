// ggml block quantizers, byte-compatible with ggml's reference (quantize_row_*_ref):
//   Q8_0: 32 values -> f16 scale d = amax/127, then 32 int8 round(x/d)        (34 bytes)
//   Q4_0: 32 values -> f16 scale d = max/-8 (max = the value of largest |x|), then 16 bytes
//         of nibbles: byte j holds q[j] (low) and q[j+16] (high), q = min(15, trunc(x/d + 8.5))
// Arithmetic is rounded to float32 (Math.fround) so results match the C code bit for bit.
import { GgmlType } from '../gguf/ggml-types';
import { f16ToF32, f32ToF16 } from '../gguf/gguf-writer';

export const QK = 32;
export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;

const fr = Math.fround;

/** C roundf: halves away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

function checkLength(n: number): void {
  if (n % QK !== 0) throw new RangeError(`${n} values are not a whole number of ${QK}-value blocks`);
}

export function quantizeQ8_0(src: Float32Array, out?: Uint8Array): Uint8Array {
  checkLength(src.length);
  const nb = src.length / QK;
  const dst = out ?? new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) {
      const a = Math.abs(src[base + j] as number);
      if (a > amax) amax = a;
    }
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    const h = f32ToF16(d);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
    for (let j = 0; j < QK; j++) dst[o + 2 + j] = roundf(fr((src[base + j] as number) * id)) & 0xff;
  }
  return dst;
}

export function dequantizeQ8_0(src: Uint8Array, n: number): Float32Array {
  checkLength(n);
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16ToF32((src[o] as number) | ((src[o + 1] as number) << 8));
    for (let j = 0; j < QK; j++) out[b * QK + j] = d * (((src[o + 2 + j] as number) << 24) >> 24);
  }
  return out;
}

export function quantizeQ4_0(src: Float32Array, out?: Uint8Array): Uint8Array {
  checkLength(src.length);
  const nb = src.length / QK;
  const dst = out ?? new Uint8Array(nb * Q4_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = src[base + j] as number;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    const o = b * Q4_0_BLOCK_BYTES;
    const h = f32ToF16(d);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
    for (let j = 0; j < QK / 2; j++) {
      // (int8_t)(x + 8.5f) truncates toward zero; x*id lies in [-8, 8] so the sum is positive.
      const q0 = Math.min(15, Math.trunc(fr(fr((src[base + j] as number) * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(fr((src[base + j + QK / 2] as number) * id) + 8.5)));
      dst[o + 2 + j] = q0 | (q1 << 4);
    }
  }
  return dst;
}

export function dequantizeQ4_0(src: Uint8Array, n: number): Float32Array {
  checkLength(n);
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = f16ToF32((src[o] as number) | ((src[o + 1] as number) << 8));
    for (let j = 0; j < QK / 2; j++) {
      const byte = src[o + 2 + j] as number;
      out[b * QK + j] = ((byte & 0x0f) - 8) * d;
      out[b * QK + j + QK / 2] = ((byte >>> 4) - 8) * d;
    }
  }
  return out;
}

/**
 * float32 -> float16 bits with round-to-nearest-even, like ggml. Normal-range values take a
 * branch-free path; the rare rest (zeros, subnormals, overflow) goes through f32ToF16.
 */
export function f32ToF16Array(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i] as number;
    const abs = x & 0x7fffffff;
    if (abs >= 0x38800000 && abs < 0x477ff000) {
      const m = abs - 0x38000000; // rebias the exponent from 127 to 15
      out[i] = ((x >>> 16) & 0x8000) | ((m + 0x0fff + ((m >>> 13) & 1)) >>> 13);
    } else {
      out[i] = f32ToF16(src[i] as number);
    }
  }
  return out;
}

/** Encodes float32 values as a ggml tensor type's bytes (F32, F16, Q8_0, Q4_0). */
export function encodeAs(type: number, values: Float32Array): Uint8Array {
  switch (type) {
    case GgmlType.F32:
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case GgmlType.F16: {
      const h = f32ToF16Array(values);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
    case GgmlType.Q8_0:
      return quantizeQ8_0(values);
    case GgmlType.Q4_0:
      return quantizeQ4_0(values);
    default:
      throw new RangeError(`cannot encode tensor type ${type}`);
  }
}
