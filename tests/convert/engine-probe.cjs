// Child process for tests: loads a GGUF pair with @fugood/llama.node, runs completions and prints
// the generated tokens with their top-k probabilities as JSON. A bad file SIGSEGVs this process,
// never the test runner. Usage: node engine-probe.cjs <request.json>
const fs = require('node:fs');
const binding = require('@fugood/llama.node');

async function main() {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const ctx = await binding.loadModel({ model: req.model, n_ctx: req.nCtx ?? 256, n_gpu_layers: 0, n_parallel: 1, ctx_shift: false, n_threads: 1 });
  const out = { runs: [] };
  try {
    if (req.mmproj && !ctx.initMultimodal({ path: req.mmproj, use_gpu: false })) throw new Error('initMultimodal failed');
    let seen = 0;
    for (const run of req.runs) {
      const tok = await ctx.tokenize(run.prompt, run.media ? [run.media] : undefined);
      const res = await ctx.completion({
        prompt: run.prompt,
        ...(run.media ? { media_paths: [run.media] } : {}),
        n_predict: run.steps,
        seed: 7,
        n_probs: run.nProbs ?? 5,
        ignore_eos: true,
        penalty_repeat: 1,
        stop: [],
        ...run.sampling,
      });
      // The binding keeps appending to completion_probabilities across calls: keep only this run's.
      const all = res.completion_probabilities ?? [];
      out.runs.push({ promptTokens: Array.from(tok.tokens ?? []), text: res.text, probs: all.slice(seen) });
      seen = all.length;
    }
  } finally {
    await ctx.release();
  }
  process.stdout.write(`\n@@PROBE@@${JSON.stringify(out)}\n`);
}
main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
