// Probe: cancel of one parallel request while another runs; q8_0 KV. Usage: node scripts/probe-cancel.cjs <fixtures-dir>
const path = require('node:path'); const { loadModel } = require('@fugood/llama.node');
const dir = process.argv[2] || '/tmp/fx';
const base = { n_predict: 200, seed: 42, top_k: 1, temperature: 0, xtc_probability: 0, dry_multiplier: 0 };
const P = 'USER: Tell me a story about a cat.\nASSISTANT:'; const out = {};
(async () => {
  for (const kv of (process.argv[3] || 'f16').split(',')) {
    const ctx = await loadModel({ model: path.join(dir, 'model-f32.gguf'), n_ctx: 2048, n_parallel: 2, cache_type_k: kv, cache_type_v: kv });
    await ctx.parallel.enable({ n_parallel: 2, n_batch: 512 });
    const solo = await (await ctx.parallel.completion({ ...base, prompt: P })).promise;
    let n = 0; const a = await ctx.parallel.completion({ ...base, prompt: P }, () => { if (++n === 5) a.stop(); });
    const b = await ctx.parallel.completion({ ...base, prompt: P });
    const ra = await a.promise.then((r) => ({ ok: r.text.length }), (e) => ({ err: String(e) }));
    const rb = await b.promise;
    out[kv] = { soloLen: solo.text.length, cancelled: ra, otherEqualsSolo: rb.text === solo.text, tokensA: n };
    await ctx.release();
  }
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify(out)); console.error('FAILED', e); process.exit(1); });
