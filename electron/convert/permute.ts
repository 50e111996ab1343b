// Row reordering for rotary embeddings: HF LLaMA layout -> llama.cpp (GGUF) layout.

/**
 * HF LLaMA checkpoints rotate pairs (i, i + d/2) within each head ("rotate_half"); llama.cpp
 * rotates adjacent pairs (2i, 2i + 1). Reordering the output rows of q_proj/k_proj per head,
 * new row 2j + i <- old row i * d/2 + j, makes both compute the same attention scores.
 * `rows` must be whole heads.
 */
export function permuteRotaryRows<T extends Float32Array | Uint8Array>(src: T, rows: number, rowLength: number, headDim: number, out?: T): T {
  const dst = out ?? new (src.constructor as new (n: number) => T)(src.length);
  if (rows % headDim !== 0 || headDim % 2 !== 0) throw new RangeError(`${rows} rows are not whole heads of ${headDim}`);
  const half = headDim / 2;
  for (let h = 0; h < rows / headDim; h++) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < half; j++) {
        const from = (h * headDim + i * half + j) * rowLength;
        const to = (h * headDim + 2 * j + i) * rowLength;
        dst.set(src.subarray(from, from + rowLength), to);
      }
    }
  }
  return dst;
}
