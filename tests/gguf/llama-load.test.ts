// Proves llama.cpp (through @fugood/llama.node) accepts the generated files. The engine runs in
// a child process because a rejected file kills its process with SIGSEGV.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { getFixtures, REPO_ROOT } from '../helpers/fixtures';

const CHILD = `
const { loadModel } = require('@fugood/llama.node');
(async () => {
  const [pairs, image] = JSON.parse(process.argv[1]);
  const out = [];
  for (const { model, mmproj } of pairs) {
    const ctx = await loadModel({ model, n_ctx: 512, n_gpu_layers: 0 });
    const vision = await ctx.initMultimodal({ path: mmproj, use_gpu: false });
    let streamed = 0;
    const r = await ctx.completion(
      { prompt: 'USER: <__media__>\\nwhat is the color of this image?\\nASSISTANT:', media_paths: [image], n_predict: 8, top_k: 1, seed: 1 },
      () => { streamed++; },
    );
    // The binding can deliver its last token callbacks just after completion() resolved.
    await new Promise((resolve) => setTimeout(resolve, 100));
    out.push({ vision, streamed, predicted: r.tokens_predicted, evaluated: r.tokens_evaluated, text: r.text });
    await ctx.release();
  }
  process.stdout.write('\\nRESULT ' + JSON.stringify(out) + '\\n');
})().catch((e) => { console.error('CHILD ERROR', e); process.exit(3); });
`;

interface ChildRun {
  vision: boolean;
  streamed: number;
  predicted: number;
  evaluated: number;
  text: string;
}

function runChild(arg: string): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, arg], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

describe('llama.cpp accepts the generated pair', () => {
  it('loads the F32 and F16 tiny pairs, encodes an image and generates', async () => {
    const fx = await getFixtures();
    const { code, signal, output } = await runChild(JSON.stringify([[fx.pair, fx.pairF16], fx.images.png32]));
    const line = output.split('\n').find((l) => l.startsWith('RESULT '));
    if (code !== 0 || !line) throw new Error(`child exited with ${code ?? signal}:\n${output.slice(-4000)}`);
    const runs = JSON.parse(line.slice('RESULT '.length)) as ChildRun[];
    expect(runs).toHaveLength(2);
    for (const r of runs) {
      expect(r.vision).toBe(true);
      expect(r.predicted).toBe(8);
      expect(r.streamed).toBeGreaterThan(0);
      // 4 image embeddings (28 px / 14 px patches) plus the text prompt.
      expect(r.evaluated).toBeGreaterThan(4);
      expect(typeof r.text).toBe('string');
    }
  });
});
