// Deterministic test weights for the quantizer tests: uniform noise whose scale varies within a
// block (×1..×7), so per-block scales and mins get exercised.
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale * (1 + (i % 7));
  }
  return out;
}
