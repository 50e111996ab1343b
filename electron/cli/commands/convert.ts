// `firellava convert --from <hf-checkpoint-dir> --out <dir> [--quant q4_0]`: turns the official
// FireLLaVA (LLaVA-1.5) Hugging Face checkpoint into the GGUF pair the engine runs, in a worker
// thread, with progress on stderr and the resulting paths on stdout. Ctrl+C cancels cleanly.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QUANTS, estimateConversion, type ConvertProgress, type Quant } from '../../convert/convert-llava';
import { startConversion } from '../../convert/convert-runner';
import { CheckpointError } from '../../convert/safetensors';
import { parseCommand } from '../parse-command';

const HELP = `Usage: firellava convert --from DIR --out DIR [options]

Converts a LLaVA-1.5 checkpoint in Hugging Face layout (config.json, tokenizer.model,
safetensors shards; e.g. fireworks-ai/FireLLaVA-13b) into a GGUF language model and a
GGUF vision projector (mmproj, F16). No Python needed.

Options:
  --from DIR        the checkpoint folder
  --out DIR         where the .gguf files go (created if missing)
  --quant TYPE      language model type: ${QUANTS.join(', ')} (default q4_0)
  --estimate        only print the disk estimate
  --no-sync         skip fsync before the final rename (faster, less crash-safe)
  -h, --help        show this help`;

const gb = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);

export async function run(argv: string[]): Promise<number> {
  const cli = parseCommand(
    argv,
    {
      from: { type: 'string' },
      out: { type: 'string' },
      quant: { type: 'string', default: 'q4_0' },
      estimate: { type: 'boolean', default: false },
      'no-sync': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    HELP,
  );
  if (cli.exitCode !== undefined) return cli.exitCode;
  const { values } = cli;
  if (!values.from || !values.out) {
    console.error(`--from and --out are required\n\n${HELP}`);
    return 2;
  }
  const quant = values.quant as Quant;
  if (!QUANTS.includes(quant)) {
    console.error(`--quant must be one of ${QUANTS.join(', ')}, got "${values.quant}"`);
    return 2;
  }
  const from = resolve(values.from);
  const out = resolve(values.out);
  try {
    const est = await estimateConversion(from, out, quant);
    console.error(
      `checkpoint tensors ${gb(est.inputBytes)}; output ${gb(est.modelBytes)} model + ${gb(est.mmprojBytes)} mmproj; ` +
        `free ${est.freeBytes === null ? 'unknown' : gb(est.freeBytes)}`,
    );
    if (values.estimate) return est.enoughSpace ? 0 : 1;
    if (!est.enoughSpace) {
      console.error('not enough free disk space for the output');
      return 1;
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }

  const bundled = join(__dirname, '..', 'convert', 'convert-worker.cjs');
  let lastLine = '';
  const show = (p: ConvertProgress): void => {
    const pct = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 0;
    const line = p.phase === 'convert' ? `convert ${p.file ?? ''} ${pct}%` : p.phase;
    if (line !== lastLine) console.error(line);
    lastLine = line;
  };
  const job = startConversion({ from, outDir: out, quant, sync: !values['no-sync'] }, { ...(existsSync(bundled) ? { workerEntry: bundled } : {}), onProgress: show });
  const onSigint = (): void => {
    console.error('cancelling…');
    job.cancel();
  };
  process.once('SIGINT', onSigint);
  try {
    const r = await job.done;
    console.log(`model   ${r.model}`);
    console.log(`mmproj  ${r.mmproj}`);
    // maxRSS covers the worker thread too (same process): what "bounded memory" is measured by.
    const rssMb = process.resourceUsage().maxRSS / 1024;
    console.error(`converted ${gb(r.inputBytes)} in ${r.seconds.toFixed(1)} s (${(r.inputBytes / 1e6 / r.seconds).toFixed(0)} MB/s), peak RSS ${rssMb.toFixed(0)} MB`);
    return 0;
  } catch (err) {
    if (err instanceof CheckpointError && err.code === 'CANCELLED') {
      console.error('cancelled; no output was left behind');
      return 130;
    }
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
