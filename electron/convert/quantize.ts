// ggml block quantizers, byte-compatible with ggml's reference (quantize_row_*_ref):
//   Q8_0: 32 values -> f16 scale d = amax/127, then 32 int8 round(x/d)        (34 bytes)
//   Q4_0: 32 values -> f16 scale d = max/-8 (max = the value of largest |x|), then 16 bytes
//         of nibbles: byte j holds q[j] (low) and q[j+16] (high), q = min(15, trunc(x/d + 8.5))
//   Q5_0: like Q4_0 with d = max/-16 and q = min(31, trunc(x/d + 16.5)): f16 d, 4 bytes qh
//         (bit j = bit 4 of q[j]), 16 bytes of low nibbles                  (22 bytes)
// The k-quants (Q4_K, Q6_K) live in quantize-k.ts. Arithmetic is rounded to float32
// (Math.fround) so results match the C code as written (no fused multiply-add).
// The kernels take offsets instead of views: the converter encodes row by row from one reused
// scratch row, and a view per row would cost an allocation each.
import { GgmlType, tensorByteSize } from '../gguf/ggml-types';
import { f16ToF32, f32ToF16 } from '../gguf/gguf-writer';
import { Q4_K_BLOCK_BYTES, Q6_K_BLOCK_BYTES, QK_K, dequantizeQ4_K, dequantizeQ6_K, quantizeQ4_KInto, quantizeQ6_KInto } from './quantize-k';

export const QK = 32;
export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;
export const Q5_0_BLOCK_BYTES = 22;

const fr = Math.fround;

function checkLength(n: number, block = QK): void {
  if (n % block !== 0) throw new RangeError(`${n} values are not a whole number of ${block}-value blocks`);
}

/** Writes n values (a multiple of 32) from src[s..] as Q8_0 blocks at dst[o..]. */
export function quantizeQ8_0Into(src: Float32Array, s: number, n: number, dst: Uint8Array, o: number): void {
  for (let end = s + n; s < end; s += QK, o += Q8_0_BLOCK_BYTES) {
    let amax = 0;
    for (let j = s; j < s + QK; j++) {
      const a = Math.abs(src[j] as number); // a branch on the sign would mispredict half the time
      if (a > amax) amax = a;
    }
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    const h = f32ToF16(d);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
    for (let j = 0; j < QK; j++) {
      const x = fr((src[s + j] as number) * id);
      // C roundf without a sign branch (random signs mispredict: 4x slower): x + 128.5 > 0 is
      // exact, truncation rounds halves up, and the rare negative tie is moved down. The store
      // wraps to int8.
      let q = ((x + 128.5) | 0) - 128;
      if (q - x === 0.5 && x < 0) q--;
      dst[o + 2 + j] = q;
    }
  }
}

/** Largest-magnitude value of src[s..s+32) with its sign (the first one on ties), as in ggml. */
function signedMax(src: Float32Array, s: number): number {
  let amax = 0;
  let max = 0;
  for (let j = s; j < s + QK; j++) {
    const v = src[j] as number;
    const a = Math.abs(v);
    if (a > amax) {
      amax = a;
      max = v;
    }
  }
  return max;
}

export function quantizeQ4_0Into(src: Float32Array, s: number, n: number, dst: Uint8Array, o: number): void {
  for (let end = s + n; s < end; s += QK, o += Q4_0_BLOCK_BYTES) {
    const d = fr(signedMax(src, s) / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    const h = f32ToF16(d);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
    for (let j = 0; j < QK / 2; j++) {
      // (int8_t)(x + 8.5f) truncates toward zero; x*id lies in [-8, 8] so the sum is positive.
      const q0 = fr(fr((src[s + j] as number) * id) + 8.5) | 0;
      const q1 = fr(fr((src[s + j + QK / 2] as number) * id) + 8.5) | 0;
      dst[o + 2 + j] = (q0 > 15 ? 15 : q0) | ((q1 > 15 ? 15 : q1) << 4);
    }
  }
}

export function quantizeQ5_0Into(src: Float32Array, s: number, n: number, dst: Uint8Array, o: number): void {
  for (let end = s + n; s < end; s += QK, o += Q5_0_BLOCK_BYTES) {
    const d = fr(signedMax(src, s) / -16);
    const id = d !== 0 ? fr(1 / d) : 0;
    const h = f32ToF16(d);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      let q0 = fr(fr((src[s + j] as number) * id) + 16.5) | 0;
      let q1 = fr(fr((src[s + j + QK / 2] as number) * id) + 16.5) | 0;
      if (q0 > 31) q0 = 31;
      if (q1 > 31) q1 = 31;
      dst[o + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 >>> 4) << j) | ((q1 >>> 4) << (j + QK / 2));
    }
    dst[o + 2] = qh & 0xff;
    dst[o + 3] = (qh >>> 8) & 0xff;
    dst[o + 4] = (qh >>> 16) & 0xff;
    dst[o + 5] = qh >>> 24;
  }
}

export function quantizeQ8_0(src: Float32Array, out?: Uint8Array): Uint8Array {
  checkLength(src.length);
  const dst = out ?? new Uint8Array((src.length / QK) * Q8_0_BLOCK_BYTES);
  quantizeQ8_0Into(src, 0, src.length, dst, 0);
  return dst;
}

export function quantizeQ4_0(src: Float32Array, out?: Uint8Array): Uint8Array {
  checkLength(src.length);
  const dst = out ?? new Uint8Array((src.length / QK) * Q4_0_BLOCK_BYTES);
  quantizeQ4_0Into(src, 0, src.length, dst, 0);
  return dst;
}

export function quantizeQ5_0(src: Float32Array, out?: Uint8Array): Uint8Array {
  checkLength(src.length);
  const dst = out ?? new Uint8Array((src.length / QK) * Q5_0_BLOCK_BYTES);
  quantizeQ5_0Into(src, 0, src.length, dst, 0);
  return dst;
}

const half = (src: Uint8Array, o: number): number => f16ToF32((src[o] as number) | ((src[o + 1] as number) << 8));

export function dequantizeQ8_0(src: Uint8Array, n: number): Float32Array {
  checkLength(n);
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = half(src, o);
    for (let j = 0; j < QK; j++) out[b * QK + j] = d * (((src[o + 2 + j] as number) << 24) >> 24);
  }
  return out;
}

export function dequantizeQ4_0(src: Uint8Array, n: number): Float32Array {
  checkLength(n);
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = half(src, o);
    for (let j = 0; j < QK / 2; j++) {
      const byte = src[o + 2 + j] as number;
      out[b * QK + j] = ((byte & 0x0f) - 8) * d;
      out[b * QK + j + QK / 2] = ((byte >>> 4) - 8) * d;
    }
  }
  return out;
}

export function dequantizeQ5_0(src: Uint8Array, n: number): Float32Array {
  checkLength(n);
  const out = new Float32Array(n);
  for (let b = 0; b < n / QK; b++) {
    const o = b * Q5_0_BLOCK_BYTES;
    const d = half(src, o);
    const qh = ((src[o + 2] as number) | ((src[o + 3] as number) << 8) | ((src[o + 4] as number) << 16) | ((src[o + 5] as number) << 24)) >>> 0;
    for (let j = 0; j < QK / 2; j++) {
      const byte = src[o + 6 + j] as number;
      out[b * QK + j] = (((byte & 0x0f) | (((qh >>> j) & 1) << 4)) - 16) * d;
      out[b * QK + j + QK / 2] = (((byte >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
  return out;
}

/**
 * float32 -> float16 bits with round-to-nearest-even, like ggml. Normal-range values take a
 * branch-free path; the rare rest (zeros, subnormals, overflow) goes through f32ToF16.
 */
export function f32ToF16Array(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
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

type RowKernel = (src: Float32Array, s: number, n: number, dst: Uint8Array, o: number) => void;

const KERNELS = new Map<number, { block: number; kernel: RowKernel }>([
  [GgmlType.Q8_0, { block: QK, kernel: quantizeQ8_0Into }],
  [GgmlType.Q4_0, { block: QK, kernel: quantizeQ4_0Into }],
  [GgmlType.Q5_0, { block: QK, kernel: quantizeQ5_0Into }],
  [GgmlType.Q4_K, { block: QK_K, kernel: quantizeQ4_KInto }],
  [GgmlType.Q6_K, { block: QK_K, kernel: quantizeQ6_KInto }],
]);

/** The ggml types encodeAs/encodeRowInto can produce. */
export const ENCODABLE_TYPES: readonly number[] = [GgmlType.F32, GgmlType.F16, ...KERNELS.keys()];

/**
 * Encodes src[s..s+n) as `type` into dst at byte offset o (n a whole number of the type's
 * blocks). F16 needs o to be even.
 */
export function encodeRowInto(type: number, src: Float32Array, s: number, n: number, dst: Uint8Array, o: number): void {
  const k = KERNELS.get(type);
  if (k) {
    checkLength(n, k.block);
    k.kernel(src, s, n, dst, o);
  } else if (type === GgmlType.F32) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset + s * 4, n * 4), o);
  } else if (type === GgmlType.F16) {
    f32ToF16Array(src.subarray(s, s + n), new Uint16Array(dst.buffer, dst.byteOffset + o, n));
  } else {
    throw new RangeError(`cannot encode tensor type ${type}`);
  }
}

/** Encodes float32 values as a ggml tensor type's bytes (F32, F16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K). */
export function encodeAs(type: number, values: Float32Array): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (!ENCODABLE_TYPES.includes(type)) throw new RangeError(`cannot encode tensor type ${type}`);
  const out = new Uint8Array(tensorByteSize(type, [values.length]));
  encodeRowInto(type, values, 0, values.length, out, 0);
  return out;
}

/** The values `n` elements of `type` bytes stand for, as ggml's dequantize_row_* computes them. */
export function decodeAs(type: number, bytes: Uint8Array, n: number): Float32Array {
  switch (type) {
    case GgmlType.F32:
      return new Float32Array(bytes.slice(0, n * 4).buffer);
    case GgmlType.F16:
      return Float32Array.from({ length: n }, (_, i) => f16ToF32((bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8)));
    case GgmlType.Q8_0:
      return dequantizeQ8_0(bytes, n);
    case GgmlType.Q4_0:
      return dequantizeQ4_0(bytes, n);
    case GgmlType.Q5_0:
      return dequantizeQ5_0(bytes, n);
    case GgmlType.Q4_K:
      return dequantizeQ4_K(bytes, n);
    case GgmlType.Q6_K:
      return dequantizeQ6_K(bytes, n);
    default:
      throw new RangeError(`cannot decode tensor type ${type}`);
  }
}

export { QK_K, Q4_K_BLOCK_BYTES, Q6_K_BLOCK_BYTES };
