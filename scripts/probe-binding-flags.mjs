import { loadModel } from '@fugood/llama.node';
const F = '.cache/fixtures/v2/';
const S = { xtc_probability: 0, dry_multiplier: 0, top_k: 1, seed: 1 };
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
async function fresh() {
  const ctx = await loadModel({ model: F + 'model-f32.gguf', n_ctx: 512, n_gpu_layers: 0, n_parallel: 1, ctx_shift: false });
  ctx.initMultimodal({ path: F + 'mmproj-f32.gguf', use_gpu: false });
  return ctx;
}
async function run(o) {
  const ctx = await fresh();
  let n = 0; const toks = [];
  try {
    const r = await ctx.completion({ ...S, ...o }, (t) => { n++; toks.push(t.token); });
    await sleep(50);
    return { cb: n, predicted: r.tokens_predicted, eval: r.tokens_evaluated, eos: r.stopped_eos, words: r.stopped_words, limited: r.stopped_limited, ctxfull: r.context_full, pn: r.timings.prompt_n, text: JSON.stringify(r.text), toks: JSON.stringify(toks.join('')) };
  } catch (e) { return { threw: e.message }; }
  finally { await sleep(50); try { await ctx.release(); } catch {} }
}
for (const np of [1, 2, 3, 8, 200]) console.log('text np', np, await run({ prompt: 'USER: hello there\nASSISTANT:', n_predict: np }));
for (const np of [1, 3, 200]) console.log('img np', np, await run({ prompt: 'USER: <__media__>\nhi\nASSISTANT:', media_paths: [F + 'images/gradient-32x32.png'], n_predict: np }));
console.log('stop word', await run({ prompt: 'USER: hello there\nASSISTANT:', n_predict: 50, stop: ['o'] }));
// tokenize on bad images, then completion on same ctx
const ctx = await fresh();
for (const bad of ['images/truncated.png', 'images/not-an-image.png', 'images/empty.png', 'nope.png', 'images/gradient-32x32.png']) {
  try { const t = await ctx.tokenize('USER: <__media__>\nhi', [F + bad]); console.log('tokenize ok', bad, t.has_media, t.bitmap_hashes); }
  catch (e) { console.log('tokenize threw', bad, e.message); }
}
try { const t = await ctx.tokenize('USER: <__media__>\nhi <__media__>', [F + 'images/gradient-32x32.png']); console.log('tokenize 2 markers ok', t.tokens.length, t.bitmap_hashes); }
catch (e) { console.log('tokenize 2 markers threw', e.message); }
try { const r2 = await ctx.completion({ ...S, prompt: 'USER: x\nASSISTANT:', n_predict: 4 }); console.log('after tokenize completion ok', r2.text); } catch (e) { console.log('after tokenize fail', e.message); }
await sleep(50);
try { await ctx.completion({ ...S, prompt: 'USER: <__media__>\nhi <__media__>\nASSISTANT:', media_paths: [F + 'images/gradient-32x32.png'], n_predict: 4 }); console.log('2 markers completion ok'); }
catch (e) { console.log('2 markers completion threw', e.message); }
for (const w of [0, 100, 500]) {
  await sleep(w);
  try { const r3 = await ctx.completion({ ...S, prompt: 'USER: x\nASSISTANT:', n_predict: 4 }); console.log('after failed completion', w, 'ok', r3.text); break; } catch (e) { console.log('after failed completion', w, e.message); }
}
const ctx2 = await fresh();
try { await ctx2.completion({ ...S, prompt: 'USER: <__media__>\nhi\nASSISTANT:', media_paths: [F + 'images/truncated.png'], n_predict: 4 }); console.log('bad image completion ok'); }
catch (e) { console.log('bad image completion threw', e.message); }
for (const w of [0, 100, 500]) {
  await sleep(w);
  try { const r3 = await ctx2.completion({ ...S, prompt: 'USER: x\nASSISTANT:', n_predict: 4 }); console.log('after bad image', w, 'ok', r3.text); break; } catch (e) { console.log('after bad image', w, e.message); }
}
process.exit(0);
