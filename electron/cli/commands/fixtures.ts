// `firellava fixtures --out DIR [--big --layers N --type f16]`: writes deterministic test
// models, broken variants and images. --big uses FireLLaVA-13B's shapes for GPU benchmarks.
import { resolve } from 'node:path';
import { FIRELLAVA_HF_TEXT, FIRELLAVA_HF_VISION, writeHfCheckpoint, type HfDtype } from '../../fixtures/hf-checkpoint';
import { writeTestImages } from '../../fixtures/png';
import {
  FIRELLAVA_13B_TEXT,
  FIRELLAVA_VISION,
  FIXTURE_GENERATOR_VERSION,
  writeBrokenVariants,
  writeLlavaPair,
  type FixtureTensorType,
} from '../../fixtures/tiny-llava';
import { parseCommand } from '../parse-command';

const HELP = `Usage: firellava fixtures --out DIR [options]

Writes a tiny LLaVA-1.5 model pair (LLaMA text model + CLIP mlp projector), broken variants
of it, and test images into DIR, then prints their paths. Output is deterministic.

Options:
  --out DIR            output folder (created if missing)
  --type f32|f16       tensor type of matrices (default f32; f16 for --big)
  --seed N             random seed (default 1)
  --big                FireLLaVA-13B shapes (n_embd 5120, vocab 32000, ViT-L/14-336 projector)
  --layers N           text layers with --big (default 2; the real model has 40)
  --vision-layers N    projector layers with --big (default 23, as in LLaVA-1.5 mmproj files)
  --hf-checkpoint      write a LLaVA checkpoint in Hugging Face layout instead (what
                       "firellava convert" reads); --type f32|f16|bf16 (default f16), and with
                       --big FireLLaVA-13B widths with --layers text layers
  -h, --help           show this help`;

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const cli = parseCommand(
    argv,
    {
      out: { type: 'string' },
      type: { type: 'string' },
      seed: { type: 'string' },
      big: { type: 'boolean', default: false },
      layers: { type: 'string' },
      'vision-layers': { type: 'string' },
      'hf-checkpoint': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    HELP,
  );
  if (cli.exitCode !== undefined) return cli.exitCode;
  const { values } = cli;
  if (!values.out) {
    console.error(`--out is required\n\n${HELP}`);
    return 2;
  }
  let tensorType: FixtureTensorType;
  let seed: number;
  let layers: number;
  let visionLayers: number;
  try {
    const t = values.type ?? (values.big ? 'f16' : 'f32');
    if (t !== 'f32' && t !== 'f16') throw new Error(`--type must be f32 or f16, got "${t}"`);
    tensorType = t;
    seed = positiveInt(values.seed, 'seed', 1);
    layers = positiveInt(values.layers, 'layers', 2);
    visionLayers = positiveInt(values['vision-layers'], 'vision-layers', FIRELLAVA_VISION.nLayer);
    if (!values.big && (values.layers !== undefined || values['vision-layers'] !== undefined)) {
      throw new Error('--layers and --vision-layers need --big');
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }

  const out = resolve(values.out);
  if (values['hf-checkpoint']) {
    const t = (values.type ?? 'f16').toUpperCase();
    if (t !== 'F32' && t !== 'F16' && t !== 'BF16') {
      console.error(`--type must be f32, f16 or bf16 with --hf-checkpoint, got "${values.type}"`);
      return 2;
    }
    const layers = values.layers === undefined ? 2 : Number(values.layers);
    if (!Number.isInteger(layers) || layers <= 0) {
      console.error('--layers must be a positive integer');
      return 2;
    }
    const started = Date.now();
    const info = await writeHfCheckpoint(out, {
      seed: Number(values.seed ?? 1),
      dtype: t as HfDtype,
      ...(values.big ? { text: { ...FIRELLAVA_HF_TEXT, layers }, vision: FIRELLAVA_HF_VISION, shards: 4 } : {}),
    });
    console.log(`checkpoint  ${info.dir}`);
    console.error(`HF checkpoint (${(info.totalBytes / 1e6).toFixed(1)} MB of tensors) written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  }
  const started = Date.now();
  const paths: Record<string, string> = {};
  if (values.big) {
    const pair = await writeLlavaPair(out, {
      seed,
      tensorType,
      text: { ...FIRELLAVA_13B_TEXT, nLayer: layers },
      vision: { ...FIRELLAVA_VISION, nLayer: visionLayers },
      modelFileName: `firellava-shaped-${layers}l-${tensorType}.gguf`,
      mmprojFileName: `mmproj-firellava-shaped-${tensorType}.gguf`,
      sync: true,
    });
    paths.model = pair.model;
    paths.mmproj = pair.mmproj;
  } else {
    const pair = await writeLlavaPair(out, { seed, tensorType });
    paths.model = pair.model;
    paths.mmproj = pair.mmproj;
    const broken = await writeBrokenVariants(resolve(out, 'broken'), pair, seed);
    for (const [k, v] of Object.entries(broken)) if (k !== 'truncatedTensor') paths[`broken.${k}`] = v;
  }
  const images = await writeTestImages(resolve(out, 'images'));
  for (const [k, v] of Object.entries(images)) paths[`images.${k}`] = v;

  const width = Math.max(...Object.keys(paths).map((k) => k.length));
  for (const [k, v] of Object.entries(paths)) console.log(`${k.padEnd(width)}  ${v}`);
  console.error(`fixtures v${FIXTURE_GENERATOR_VERSION} written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}
