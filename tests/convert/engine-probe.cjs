// Child process for tests: loads a GGUF pair with @fugood/llama.node, runs completions and prints
// the generated tokens with their top-k probabilities as JSON. A bad file SIGSEGVs this process,
// never the test runner. Usage: node engine-probe.cjs <request.json>
const fs = require('node:fs');
const binding = require('@fugood/llama.node');

// The binding resolves a completion slightly before it accepts the next one ("Another completion
// is in progress"): wait for it rather than fail. Any other error is real.
async function completeWhenIdle(ctx, options) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.completion(options);
    } catch (err) {
      if (attempt >= 50 || !/Another completion is in progress/.test(String(err && err.message))) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function main() {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const ctx = await binding.loadModel({ model: req.model, n_ctx: req.nCtx ?? 256, n_gpu_layers: 0, n_parallel: 1, ctx_shift: false, n_threads: 1 });
  const out = { runs: [] };
  try {
    if (req.mmproj && !ctx.initMultimodal({ path: req.mmproj, use_gpu: false })) throw new Error('initMultimodal failed');
    let seen = 0;
    for (const run of req.runs) {
      const tok = await ctx.tokenize(run.prompt, run.media ? [run.media] : undefined);
      const res = await completeWhenIdle(ctx, {
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
      out.runs.push({ promptTokens: Array.from(tok.tokens ?? []), text: res.text, probs: all.slice(seen), tokensEvaluated: res.tokens_evaluated, promptN: res.timings && res.timings.prompt_n });
      seen = all.length;
    }
    out.tokenized = [];
    for (const text of req.tokenize ?? []) out.tokenized.push(Array.from((await ctx.tokenize(text)).tokens));
    // Printed before the release: a native crash while tearing down must not lose a finished measurement.
    fs.writeSync(1, `\n@@PROBE@@${JSON.stringify(out)}\n`); // synchronous: nothing left in a buffer if the process dies next
  } finally {
    await ctx.release();
  }
}
main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
