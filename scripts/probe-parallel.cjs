// Probe of @fugood/llama.node parallel mode + state files on the tiny fixtures (issue #12).
// Usage: node scripts/probe-parallel.cjs <fixtures-dir>
const fs = require('node:fs'); const path = require('node:path'); const os = require('node:os');
const { loadModel } = require('@fugood/llama.node');
const dir = process.argv[2] || '/tmp/fx';
const img = path.join(dir, 'images/gradient-32x32.png');
const base = { n_predict: 24, seed: 42, top_k: 1, temperature: 0, xtc_probability: 0, dry_multiplier: 0 };
const P1 = 'USER: <__media__>\nDescribe the picture.\nASSISTANT:';
const P2 = 'USER: Tell me a story about a cat.\nASSISTANT:';
const out = {};
(async () => {
  const ctx = await loadModel({ model: path.join(dir, 'model-f32.gguf'), n_ctx: 2048, n_parallel: 4 });
  await ctx.initMultimodal({ path: path.join(dir, 'mmproj-f32.gguf'), use_gpu: false });
  const solo1 = await ctx.completion({ ...base, prompt: P1, media_paths: [img] });
  const solo2 = await ctx.completion({ ...base, prompt: P2 });
  out.soloTimings = [solo1.timings, solo2.timings];
  out.enable = await ctx.parallel.enable({ n_parallel: 4, n_batch: 512 });
  const t0 = Date.now(); const ev = [];
  const mk = (name, o) => ctx.parallel.completion(o, () => ev.push([name, Date.now() - t0]));
  const a = await mk('a', { ...base, n_predict: 64, prompt: P1, media_paths: [img] });
  const b = await mk('b', { ...base, n_predict: 64, prompt: P2 });
  const [ra, rb] = await Promise.all([a.promise, b.promise]);
  const first = (n) => ev.find((e) => e[0] === n)?.[1]; const last = (n) => [...ev].reverse().find((e) => e[0] === n)?.[1];
  out.overlap = { aFirst: first('a'), aLast: last('a'), bFirst: first('b'), bLast: last('b') };
  const sa = await (await ctx.parallel.completion({ ...base, prompt: P1, media_paths: [img] })).promise;
  const sb = await (await ctx.parallel.completion({ ...base, prompt: P2 })).promise;
  out.parallelEqualsSoloParallel = [sa.text === ra.text.slice(0, sa.text.length), sb.text === rb.text.slice(0, sb.text.length)];
  out.parallelEqualsSequential = [sa.text === solo1.text, sb.text === solo2.text];
  // state save / load with an image
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-st-'));
  const st = path.join(tmp, 'conv.bin');
  const t1 = await (await ctx.parallel.completion({ ...base, prompt: P1, media_paths: [img], save_state_path: st })).promise;
  out.saved = { files: fs.readdirSync(tmp).map((f) => [f, fs.statSync(path.join(tmp, f)).size]), timings: t1.timings };
  const P1b = P1 + t1.text + '</s>\nUSER: And again?\nASSISTANT:';
  const cold = await (await ctx.parallel.completion({ ...base, prompt: P1b, media_paths: [img] })).promise;
  const warm = await (await ctx.parallel.completion({ ...base, prompt: P1b, media_paths: [img], load_state_path: st })).promise;
  out.resume = { coldTimings: cold.timings, warmTimings: warm.timings, equal: cold.text === warm.text };
  const bytes = fs.readFileSync(st);
  const variants = { truncated: bytes.subarray(0, Math.floor(bytes.length / 2)), flipped: Buffer.from(bytes), empty: Buffer.alloc(0) };
  variants.flipped[Math.floor(bytes.length / 2)] ^= 0xff; variants.flipped[40] ^= 0xff;
  for (const [k, buf] of Object.entries(variants)) {
    const p = path.join(tmp, k + '.bin'); fs.writeFileSync(p, buf); if (fs.existsSync(st + '.meta')) fs.copyFileSync(st + '.meta', p + '.meta');
    console.error('trying', k);
    try { const r = await (await ctx.parallel.completion({ ...base, prompt: P1b, media_paths: [img], load_state_path: p })).promise; out[k] = { ok: true, equal: r.text === cold.text, timings: r.timings }; }
    catch (e) { out[k] = { error: String(e) }; }
    fs.writeFileSync(path.join(tmp, 'probe-result.json'), JSON.stringify(out, null, 1));
  }
  console.log(JSON.stringify(out, null, 1));
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify(out, null, 1)); console.error('FAILED', e); process.exit(1); });
