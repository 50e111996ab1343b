// `firellava pull`: download a model pair into <data-dir>/models with a progress line. Exits 0
// only when both files are verified and form a ready pair; Ctrl+C pauses, and running the same
// command again resumes from the bytes on disk.
import os from 'node:os';
import path from 'node:path';
import { formatBytes } from '../../shared/format';
import { hfTokenFrom, redactToken } from '../../models/hugging-face';
import { ModelManager, ModelManagerError } from '../../models/model-manager';
import { pullRequestSchema, type DownloadJob, type PullRequest } from '../../shared/contracts/models';
import { formatZodError } from '../../shared/dispatcher';
import { parseCommand } from '../parse-command';

const USAGE = `Usage: firellava pull --data-dir DIR SOURCE [options]

Source (one of):
  --catalog ID                         an entry of the built-in catalog
  --model-url URL --mmproj-url URL     direct addresses of the two GGUF files
  --hf REPO --model-file F --mmproj-file F [--revision R]
                                       files of a Hugging Face repository

Options:
  --data-dir DIR       where models are kept (default ~/.firellava)
  --sha256-model H     expected sha256 of the model file
  --sha256-mmproj H    expected sha256 of the projector file
  --name NAME          display name
  --hf-token TOKEN     Hugging Face token for gated repos (default: HF_TOKEN or HUGGING_FACE_HUB_TOKEN)
  --no-progress        no progress line
  -h, --help           show this help

Ctrl+C pauses; run the same command again to resume.`;

function progressLine(job: DownloadJob): string {
  const file = job.files.find((f) => !f.done) ?? job.files[job.files.length - 1];
  const pct = (r: number, t: number | null): string => (t ? `${((100 * r) / t).toFixed(1)}%` : formatBytes(r));
  const eta = (s: number | null): string => (s === null || !Number.isFinite(s) ? '--' : s >= 3600 ? `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`);
  const f = file ? `${file.fileName} ${formatBytes(file.receivedBytes)}/${file.totalBytes === null ? '?' : formatBytes(file.totalBytes)} (${pct(file.receivedBytes, file.totalBytes)})` : '';
  return `${job.state} ${f} | pair ${pct(job.total.receivedBytes, job.total.totalBytes)} ${formatBytes(job.total.bytesPerSecond)}/s ETA ${eta(job.total.etaSeconds)}`;
}

export async function run(argv: string[]): Promise<number> {
  const cli = parseCommand(
    argv,
    {
      'data-dir': { type: 'string' },
      catalog: { type: 'string' },
      'model-url': { type: 'string' },
      'mmproj-url': { type: 'string' },
      hf: { type: 'string' },
      'model-file': { type: 'string' },
      'mmproj-file': { type: 'string' },
      revision: { type: 'string' },
      'sha256-model': { type: 'string' },
      'sha256-mmproj': { type: 'string' },
      name: { type: 'string' },
      'hf-token': { type: 'string' },
      'no-progress': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
  );
  if (cli.exitCode !== undefined) return cli.exitCode;
  const { values } = cli;
  const sources = [values.catalog !== undefined, values['model-url'] !== undefined || values['mmproj-url'] !== undefined, values.hf !== undefined].filter(Boolean).length;
  if (sources !== 1) {
    console.error(`Give exactly one source: --catalog, --model-url with --mmproj-url, or --hf with --model-file and --mmproj-file\n\n${USAGE}`);
    return 2;
  }
  const shas = {
    ...(values['sha256-model'] ? { sha256Model: values['sha256-model'] } : {}),
    ...(values['sha256-mmproj'] ? { sha256Mmproj: values['sha256-mmproj'] } : {}),
  };
  const named = values.name ? { name: values.name } : {};
  const raw: unknown = values.catalog
    ? { catalogId: values.catalog }
    : values.hf
      ? { hfRepo: values.hf, modelFile: values['model-file'], mmprojFile: values['mmproj-file'], ...(values.revision ? { revision: values.revision } : {}), ...named, ...shas }
      : { modelUrl: values['model-url'], mmprojUrl: values['mmproj-url'], ...named, ...shas };
  const parsed = pullRequestSchema.safeParse(raw);
  if (!parsed.success) {
    console.error(`${formatZodError(parsed.error)}\n\n${USAGE}`);
    return 2;
  }
  if (values.catalog && Object.keys(shas).length > 0) {
    console.error('--sha256-model/--sha256-mmproj go with --model-url or --hf; catalog entries carry their own');
    return 2;
  }
  const req: PullRequest = parsed.data;
  const dataDir = path.resolve(values['data-dir'] ?? path.join(os.homedir(), '.firellava'));
  const token = hfTokenFrom(values['hf-token']);
  const manager = new ModelManager({ dataDir, hfToken: () => token });

  const tty = process.stderr.isTTY === true;
  let lastPrint = 0;
  let jobId: string | null = null;
  manager.onEvent((e) => {
    if (e.type !== 'job' || values['no-progress']) return;
    jobId = e.job.id;
    const now = Date.now();
    const final = e.job.state !== 'downloading';
    if (!final && now - lastPrint < (tty ? 200 : 2000)) return;
    lastPrint = now;
    const line = progressLine(e.job);
    process.stderr.write(tty ? `\r\x1b[2K${line}${final ? '\n' : ''}` : `${line}\n`);
  });

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    if (jobId) void manager.pause(jobId);
  };
  process.on('SIGINT', onSigint);
  try {
    const model = await manager.pull(req);
    process.stderr.write('\n');
    console.log(`Ready: ${model.id} (${model.name}), ${formatBytes(model.diskBytes)} in ${path.dirname(model.files[0]?.path ?? dataDir)}${model.active ? ' [active]' : ''}`);
    return 0;
  } catch (err) {
    if (interrupted) {
      console.error(`\nPaused. Run the same command again to resume.`);
      return 130;
    }
    if (err instanceof ModelManagerError && err.reason === 'ALREADY_INSTALLED') {
      console.log(err.message);
      return 0;
    }
    const msg = err instanceof ModelManagerError ? (err.action ? `${err.message} ${err.action}` : err.message) : err instanceof Error ? err.message : String(err);
    console.error(`\n${redactToken(msg, token)}`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
