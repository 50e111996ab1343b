// `firellava convert --from <hf-checkpoint-dir> --out <dir> [--quant q4_0]`: turns the official
// FireLLaVA (LLaVA-1.5) Hugging Face checkpoint into the GGUF pair the engine runs, in a worker
// thread, with progress on stderr and the resulting paths on stdout. Ctrl+C cancels cleanly.
// `--hf REPO` downloads the checkpoint first: the app's "Get FireLLaVA" pipeline (get-firellava.ts).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hfOriginFromEnv } from '../../convert/get-firellava-job';
import { QUANTS, estimateConversion, type ConvertProgress, type Quant } from '../../convert/convert-llava';
import { startConversion } from '../../convert/convert-runner';
import { DEFAULT_REVISION, checkpointDirFor, getFireLlava, type GetProgress } from '../../convert/get-firellava';
import { CheckpointError } from '../../convert/safetensors';
import { hfTokenFrom, redactToken } from '../../models/hugging-face';
import { ModelManager } from '../../models/model-manager';
import { formatBytes } from '../../shared/format';
import { parseCommand } from '../parse-command';

const HELP = `Usage: firellava convert --from DIR --out DIR [options]
       firellava convert --hf REPO (--out DIR | --data-dir DIR) [options]

Converts a LLaVA-1.5 checkpoint in Hugging Face layout (config.json, tokenizer.model,
safetensors shards; e.g. fireworks-ai/FireLLaVA-13b) into a GGUF language model and a
GGUF vision projector (mmproj, F16). No Python needed.

Options:
  --from DIR        the checkpoint folder
  --hf REPO         download the checkpoint from Hugging Face first (fireworks-ai/FireLLaVA-13b
                    is gated: accept its Llama 2 Community License on the repo page, then give a
                    read token with --hf-token or HF_TOKEN). Running it again resumes.
  --revision REV    with --hf: branch, tag or commit (default main)
  --hf-token TOKEN  with --hf: token (default: HF_TOKEN, then HUGGING_FACE_HUB_TOKEN)
  --out DIR         where the .gguf files go (created if missing)
  --data-dir DIR    with --hf instead of --out: install the pair into DIR/models as the active
                    model (what the app's "Get FireLLaVA" does); checkpoint in DIR/checkpoints
  --checkpoint-dir DIR  with --hf: where the download goes (default OUT/checkpoints/REPO)
  --keep-checkpoint with --hf: keep the downloaded checkpoint (default: deleted once converted)
  --quant TYPE      language model type: ${QUANTS.join(', ')} (default q4_0)
  --estimate        only print the disk estimate (--from only)
  --no-sync         skip fsync before the final rename (faster, less crash-safe)
  -h, --help        show this help

Exit codes: 0 done, 1 failed (the message says what to do), 2 bad options, 130 cancelled (Ctrl+C).`;

const gb = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);

export async function run(argv: string[]): Promise<number> {
  const cli = parseCommand(
    argv,
    {
      from: { type: 'string' },
      hf: { type: 'string' },
      revision: { type: 'string' },
      'hf-token': { type: 'string' },
      'data-dir': { type: 'string' },
      'checkpoint-dir': { type: 'string' },
      'keep-checkpoint': { type: 'boolean', default: false },
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
  const quant = values.quant as Quant;
  if (!QUANTS.includes(quant)) {
    console.error(`--quant must be one of ${QUANTS.join(', ')}, got "${values.quant}"`);
    return 2;
  }
  if (values.hf !== undefined) {
    if (values.from) {
      console.error('--hf and --from exclude each other');
      return 2;
    }
    if (!/^[\w.-]+\/[\w.-]+$/.test(values.hf) || values.hf.split('/').some((p) => p === '.' || p === '..')) {
      console.error(`--hf must be a Hugging Face repo like fireworks-ai/FireLLaVA-13b, got "${values.hf}"`);
      return 2;
    }
    if (!values.out === !values['data-dir']) {
      console.error(`--hf needs either --out DIR or --data-dir DIR\n\n${HELP}`);
      return 2;
    }
    return fromHub(values.hf, quant, values);
  }
  if (!values.from || !values.out) {
    console.error(`--from and --out are required\n\n${HELP}`);
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

function progressLine(p: GetProgress): string {
  if (p.phase === 'verify' || p.phase === 'ready') return p.phase;
  const pct = p.bytesTotal ? ` ${((100 * p.bytesDone) / p.bytesTotal).toFixed(1)}%` : '';
  const eta = p.etaSeconds === null || !Number.isFinite(p.etaSeconds) ? '' : ` ETA ${Math.round(p.etaSeconds)}s`;
  const rate = p.bytesPerSecond > 0 ? ` ${formatBytes(p.bytesPerSecond)}/s` : '';
  return `${p.phase}${p.file ? ` ${p.file}` : ''}${pct} (${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)})${rate}${eta}`;
}

async function fromHub(
  repo: string,
  quant: Quant,
  values: { revision?: string; 'hf-token'?: string; out?: string; 'data-dir'?: string; 'checkpoint-dir'?: string; 'keep-checkpoint'?: boolean; 'no-sync'?: boolean },
): Promise<number> {
  let origin: string;
  try {
    origin = hfOriginFromEnv();
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const token = hfTokenFrom(values['hf-token']);
  const dataDir = values['data-dir'] ? resolve(values['data-dir']) : null;
  const out = values.out ? resolve(values.out) : null;
  const checkpointDir = resolve(values['checkpoint-dir'] ?? checkpointDirFor(dataDir ?? (out as string), repo));
  const manager = dataDir ? new ModelManager({ dataDir, catalog: [], hfToken: () => token }) : null;
  const bundled = join(__dirname, '..', 'convert', 'convert-worker.cjs');
  const ac = new AbortController();
  const onSigint = (): void => {
    if (ac.signal.aborted) process.exit(130);
    console.error('\ncancelling…');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let lastPhase = '';
  try {
    const r = await getFireLlava({
      quant,
      repo,
      revision: values.revision ?? DEFAULT_REVISION,
      origin,
      token,
      checkpointDir,
      ...(manager ? { manager, activate: true } : { outDir: out as string }),
      deleteCheckpoint: !values['keep-checkpoint'],
      sync: !values['no-sync'],
      signal: ac.signal,
      ...(existsSync(bundled) ? { workerEntry: bundled } : {}),
      onProgress: (p) => {
        const now = Date.now();
        if (p.phase === lastPhase && now - last < (tty ? 200 : 2000)) return;
        last = now;
        const line = progressLine(p);
        // On a terminal one line per phase, rewritten in place.
        if (tty) process.stderr.write(`${p.phase !== lastPhase && lastPhase ? '\n' : '\r\x1b[2K'}${line}${p.phase === 'ready' ? '\n' : ''}`);
        else process.stderr.write(`${line}\n`);
        lastPhase = p.phase;
      },
    });
    console.log(`model   ${r.model}`);
    console.log(`mmproj  ${r.mmproj}`);
    if (r.installed) console.log(`Ready: ${r.installed.id} (${r.installed.name}) [active]`);
    console.error(`${r.checkpointDeleted ? 'checkpoint deleted' : `checkpoint kept in ${checkpointDir}`}; ${r.seconds.toFixed(1)} s in all`);
    return 0;
  } catch (err) {
    const e = err as { code?: string; message?: string; action?: string | null };
    if (e.code === 'CANCELLED') {
      console.error(`cancelled; run the same command again to resume (the download so far is kept in ${checkpointDir})`);
      return 130;
    }
    const msg = e.action ? `${e.message} ${e.action}` : String(e.message ?? err);
    console.error(redactToken(msg, token));
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
