// Reference forward pass of a LLaMA text model computed directly from Hugging Face weights, in
// float64, the way transformers does it: RMSNorm, rotate_half rotary, causal attention, SwiGLU.
// Independent of llama.cpp and of the converter's permutation, so it can catch both.
import { openCheckpoint, TensorReader } from '../../electron/convert/safetensors';

interface Layer {
  inNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  postNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

export interface RefConfig {
  hidden: number;
  heads: number;
  kvHeads: number;
  ff: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
}

export class ReferenceLlama {
  private constructor(
    readonly cfg: RefConfig,
    private readonly embed: Float32Array,
    private readonly layers: Layer[],
    private readonly norm: Float32Array,
    private readonly head: Float32Array,
  ) {}

  /** `weights` may replace a tensor's values (e.g. by their quantized-then-decoded values). */
  static async load(dir: string, cfg: RefConfig, nLayers: number, weights?: (hfName: string, values: Float32Array, rowLength: number) => Float32Array): Promise<ReferenceLlama> {
    const ck = await openCheckpoint(dir);
    const r = new TensorReader();
    const get = async (name: string): Promise<Float32Array> => {
      const t = ck.tensors.get(name);
      if (!t) throw new Error(`missing ${name}`);
      const values = await r.readAll(t);
      return weights ? weights(name, values, t.shape[t.shape.length - 1] ?? 1) : values;
    };
    const p = 'language_model.model.';
    const layers: Layer[] = [];
    for (let i = 0; i < nLayers; i++) {
      const b = `${p}layers.${i}.`;
      layers.push({
        inNorm: await get(`${b}input_layernorm.weight`),
        q: await get(`${b}self_attn.q_proj.weight`),
        k: await get(`${b}self_attn.k_proj.weight`),
        v: await get(`${b}self_attn.v_proj.weight`),
        o: await get(`${b}self_attn.o_proj.weight`),
        postNorm: await get(`${b}post_attention_layernorm.weight`),
        gate: await get(`${b}mlp.gate_proj.weight`),
        up: await get(`${b}mlp.up_proj.weight`),
        down: await get(`${b}mlp.down_proj.weight`),
      });
    }
    const m = new ReferenceLlama(cfg, await get(`${p}embed_tokens.weight`), layers, await get(`${p}norm.weight`), await get('language_model.lm_head.weight'));
    await r.close();
    return m;
  }

  private rmsNorm(x: Float64Array, w: Float32Array): Float64Array {
    let ss = 0;
    for (const v of x) ss += v * v;
    const s = 1 / Math.sqrt(ss / x.length + this.cfg.eps);
    return x.map((v, i) => v * s * (w[i] as number));
  }

  /** y = W x for W stored [out, in] row-major (PyTorch Linear). */
  private static matvec(w: Float32Array, x: Float64Array, out: number): Float64Array {
    const n = x.length;
    const y = new Float64Array(out);
    for (let r = 0; r < out; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += (w[r * n + c] as number) * (x[c] as number);
      y[r] = s;
    }
    return y;
  }

  /** HF rotary: pairs (i, i + d/2) within each head rotate by pos * theta^(-2i/d). */
  private rope(x: Float64Array, nHeads: number, pos: number): void {
    const d = this.cfg.hidden / this.cfg.heads;
    const half = d / 2;
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < half; i++) {
        const angle = pos * Math.pow(this.cfg.ropeTheta, (-2 * i) / d);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const a = x[h * d + i] as number;
        const b = x[h * d + i + half] as number;
        x[h * d + i] = a * c - b * s;
        x[h * d + i + half] = b * c + a * s;
      }
    }
  }

  /** Logits after each input (teacher forcing); an input is a token id or an embedding (image). */
  logits(tokens: (number | Float64Array)[]): Float64Array[] {
    const { hidden, heads, kvHeads, ff, vocab } = this.cfg;
    const d = hidden / heads;
    const kvDim = d * kvHeads;
    const group = heads / kvHeads;
    const keys: Float64Array[][] = this.layers.map(() => []);
    const values: Float64Array[][] = this.layers.map(() => []);
    const out: Float64Array[] = [];
    tokens.forEach((tok, pos) => {
      let h = typeof tok === 'number' ? Float64Array.from(this.embed.subarray(tok * hidden, (tok + 1) * hidden)) : Float64Array.from(tok);
      this.layers.forEach((L, li) => {
        const x = this.rmsNorm(h, L.inNorm);
        const q = ReferenceLlama.matvec(L.q, x, hidden);
        const k = ReferenceLlama.matvec(L.k, x, kvDim);
        const v = ReferenceLlama.matvec(L.v, x, kvDim);
        this.rope(q, heads, pos);
        this.rope(k, kvHeads, pos);
        keys[li]!.push(k);
        values[li]!.push(v);
        const attn = new Float64Array(hidden);
        for (let hh = 0; hh < heads; hh++) {
          const kh = Math.floor(hh / group);
          const scores = keys[li]!.map((kk) => {
            let s = 0;
            for (let i = 0; i < d; i++) s += (q[hh * d + i] as number) * (kk[kh * d + i] as number);
            return s / Math.sqrt(d);
          });
          const mx = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - mx));
          const z = e.reduce((a, b) => a + b, 0);
          e.forEach((w, t) => {
            const vv = values[li]![t]!;
            for (let i = 0; i < d; i++) attn[hh * d + i] = (attn[hh * d + i] as number) + (w / z) * (vv[kh * d + i] as number);
          });
        }
        const o = ReferenceLlama.matvec(L.o, attn, hidden);
        h = h.map((v2, i) => v2 + (o[i] as number));
        const y = this.rmsNorm(h, L.postNorm);
        const g = ReferenceLlama.matvec(L.gate, y, ff);
        const u = ReferenceLlama.matvec(L.up, y, ff);
        const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * (u[i] as number));
        const dn = ReferenceLlama.matvec(L.down, act, hidden);
        h = h.map((v2, i) => v2 + (dn[i] as number));
      });
      out.push(ReferenceLlama.matvec(this.head, this.rmsNorm(h, this.norm), vocab));
    });
    return out;
  }
}

export function softmax(logits: Float64Array): Float64Array {
  let mx = -Infinity;
  for (const v of logits) if (v > mx) mx = v;
  const e = logits.map((v) => Math.exp(v - mx));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

export function argmax(xs: Float64Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) > (xs[best] as number)) best = i;
  return best;
}
