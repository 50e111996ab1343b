// Reference CLIP vision tower + LLaVA-1.5 projector from Hugging Face weights, in float64, the
// way transformers computes it: patch conv, class token, positions, pre-LN, encoder layers with
// quick_gelu, features of layer `usedLayers` (vision_feature_layer -2: all but the last, no
// post-LN), class token dropped, then linear_1 -> GELU -> linear_2.
import { openCheckpoint, TensorReader } from '../../electron/convert/safetensors';

export interface ClipRefConfig {
  hidden: number;
  heads: number;
  ff: number;
  imageSize: number;
  patchSize: number;
  eps: number;
  usedLayers: number;
  textHidden: number;
  mean: number[];
  std: number[];
}

type T = Float32Array;

function layerNorm(x: Float64Array, w: T, b: T, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let v2 = 0;
  for (const v of x) v2 += (v - mean) ** 2;
  const s = 1 / Math.sqrt(v2 / n + eps);
  return x.map((v, i) => (v - mean) * s * (w[i] as number) + (b[i] as number));
}

function linear(w: T, b: T | undefined, x: Float64Array, out: number): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let r = 0; r < out; r++) {
    let s = b ? (b[r] as number) : 0;
    for (let c = 0; c < n; c++) s += (w[r * n + c] as number) * (x[c] as number);
    y[r] = s;
  }
  return y;
}

/** Exact GELU (nn.GELU default), via the Abramowitz-Stegun erf (|error| < 1.5e-7). */
function gelu(x: number): number {
  const z = x / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * Math.abs(z));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return 0.5 * x * (1 + (z >= 0 ? y : -y));
}

/**
 * `layout` 'hf' is what transformers computes. 'llama.cpp' reproduces what the engine's clip graph
 * does today: the class token is concatenated after the patches while positions and the rows
 * handed to the projector still assume it comes first (see docs/CONVERT.md).
 */
export async function referenceImageEmbeddings(dir: string, cfg: ClipRefConfig, rgb: Uint8Array, layout: 'hf' | 'llama.cpp' = 'hf'): Promise<Float64Array[]> {
  const ck = await openCheckpoint(dir);
  const r = new TensorReader();
  const get = async (name: string): Promise<T> => {
    const t = ck.tensors.get(name);
    if (!t) throw new Error(`missing ${name}`);
    return r.readAll(t);
  };
  const V = 'vision_tower.vision_model.';
  const { hidden: e, heads, patchSize: p, imageSize: size } = cfg;
  const d = e / heads;
  const grid = size / p;
  // Pixels normalized per channel, CHW.
  const px = (c: number, y: number, x: number): number => ((rgb[(y * size + x) * 3 + c] as number) / 255 - (cfg.mean[c] as number)) / (cfg.std[c] as number);
  const conv = await get(`${V}embeddings.patch_embedding.weight`);
  const cls = await get(`${V}embeddings.class_embedding`);
  const pos = await get(`${V}embeddings.position_embedding.weight`);
  let xs: Float64Array[] = [Float64Array.from(cls)];
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const v = new Float64Array(e);
      for (let o = 0; o < e; o++) {
        let s = 0;
        for (let c = 0; c < 3; c++) for (let ky = 0; ky < p; ky++) for (let kx = 0; kx < p; kx++) s += (conv[((o * 3 + c) * p + ky) * p + kx] as number) * px(c, gy * p + ky, gx * p + kx);
        v[o] = s;
      }
      xs.push(v);
    }
  }
  if (layout === 'llama.cpp') xs.push(xs.shift()!); // patches first, class token last
  xs = xs.map((v, i) => v.map((a, j) => a + (pos[i * e + j] as number)));
  const preW = await get(`${V}pre_layrnorm.weight`);
  const preB = await get(`${V}pre_layrnorm.bias`);
  xs = xs.map((v) => layerNorm(v, preW, preB, cfg.eps));
  for (let l = 0; l < cfg.usedLayers; l++) {
    const b = `${V}encoder.layers.${l}.`;
    // One read at a time: a TensorReader reads into one shared buffer (and one open shard), so
    // reads in parallel (a Promise.all here once) decode whichever bytes landed last, depending on
    // I/O timing; that made this reference, not the engine, vary between runs under load.
    const weights: T[] = [];
    for (const n of ['layer_norm1.weight', 'layer_norm1.bias', 'self_attn.q_proj.weight', 'self_attn.q_proj.bias', 'self_attn.k_proj.weight', 'self_attn.k_proj.bias', 'self_attn.v_proj.weight', 'self_attn.v_proj.bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias', 'layer_norm2.weight', 'layer_norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias']) {
      weights.push(await get(`${b}${n}`));
    }
    const [ln1w, ln1b, qw, qb, kw, kb, vw, vb, ow, ob, ln2w, ln2b, f1w, f1b, f2w, f2b] = weights;
    const h = xs.map((v) => layerNorm(v, ln1w!, ln1b!, cfg.eps));
    const q = h.map((v) => linear(qw!, qb, v, e));
    const k = h.map((v) => linear(kw!, kb, v, e));
    const vv = h.map((v) => linear(vw!, vb, v, e));
    const attn = xs.map(() => new Float64Array(e));
    for (let hh = 0; hh < heads; hh++) {
      for (let i = 0; i < xs.length; i++) {
        const scores = k.map((kk) => {
          let s = 0;
          for (let j = 0; j < d; j++) s += (q[i]![hh * d + j] as number) * (kk[hh * d + j] as number);
          return s / Math.sqrt(d);
        });
        const mx = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - mx));
        const z = ex.reduce((a, c) => a + c, 0);
        ex.forEach((wgt, t) => {
          for (let j = 0; j < d; j++) attn[i]![hh * d + j] = (attn[i]![hh * d + j] as number) + (wgt / z) * (vv[t]![hh * d + j] as number);
        });
      }
    }
    xs = xs.map((v, i) => {
      const o = linear(ow!, ob, attn[i]!, e);
      return v.map((a, j) => a + (o[j] as number));
    });
    xs = xs.map((v) => {
      const y = layerNorm(v, ln2w!, ln2b!, cfg.eps);
      const f = linear(f1w!, f1b, y, cfg.ff).map((a) => a / (1 + Math.exp(-1.702 * a))); // quick_gelu
      const o = linear(f2w!, f2b, f, e);
      return v.map((a, j) => a + (o[j] as number));
    });
  }
  const l1w = await get('multi_modal_projector.linear_1.weight');
  const l1b = await get('multi_modal_projector.linear_1.bias');
  const l2w = await get('multi_modal_projector.linear_2.weight');
  const l2b = await get('multi_modal_projector.linear_2.bias');
  await r.close();
  // Both layouts hand rows 1..n to the projector (in llama.cpp's, the last of them is the class token).
  return xs.slice(1).map((v) => linear(l2w, l2b, linear(l1w, l1b, v, cfg.textHidden).map(gelu), cfg.textHidden));
}
