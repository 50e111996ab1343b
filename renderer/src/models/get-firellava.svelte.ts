// State of the "Get FireLLaVA" panel: the plan (license, token, quants, disk), the running job's
// events, and the calls. The component only reads this and calls its methods.
import type { ContractClient, StreamHandle } from '../../../electron/shared/client';
import type { ConversionJob, ConversionPhase, ConversionPlan, ConversionQuant } from '../../../electron/shared/contracts/conversion';
import { formatBytes, formatRate } from '../../../electron/shared/format';
import { formatEta, percent } from './model-view';
import { CallState } from '../lib/call-state.svelte';

export const STEPS: { phase: ConversionPhase; label: string }[] = [
  { phase: 'download', label: 'Download' },
  // The converter quantizes each tensor as it converts it: one pass, one step.
  { phase: 'convert', label: 'Convert + quantize' },
  { phase: 'verify', label: 'Verify and install' },
  { phase: 'ready', label: 'Ready' },
];

export function stepState(job: ConversionJob, phase: ConversionPhase): 'done' | 'current' | 'todo' {
  const at = STEPS.findIndex((s) => s.phase === job.phase);
  const i = STEPS.findIndex((s) => s.phase === phase);
  if (job.state === 'ready' || i < at) return 'done';
  return i === at ? 'current' : 'todo';
}

/** "1.2 GB of 26.1 GB · 48 MB/s · 8 min 10 s left" */
export function progressLine(job: ConversionJob): string {
  const p = job.progress;
  const parts = [`${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`];
  const rate = formatRate(p.bytesPerSecond);
  if (rate) parts.push(rate);
  const eta = formatEta(p.etaSeconds);
  if (eta) parts.push(eta);
  return parts.join(' · ');
}

/** What the current phase is doing, in words: the step's label, or for the conversion pass which file. */
export function activity(job: ConversionJob): string {
  const { phase, progress } = job;
  if (phase === 'download') return progress.file ? `Downloading ${progress.file}` : 'Downloading';
  if (phase === 'convert') {
    if (progress.file === 'mmproj') return 'Converting the vision projector to F16';
    if (progress.file === 'model') return /^f(16|32)$/.test(job.quant) ? `Converting the language model to ${job.quant.toUpperCase()}` : `Quantizing the language model to ${job.quant.toUpperCase()}`;
    return 'Reading the checkpoint';
  }
  return STEPS.find((s) => s.phase === phase)?.label ?? phase;
}

export function quantLabel(q: ConversionQuant): string {
  return `${q.quant.toUpperCase()} · ${q.outputBytes === null ? 'size unknown' : `about ${formatBytes(q.outputBytes)}`}${q.recommended ? ' (recommended)' : ''}${q.installed ? ' · installed' : ''}`;
}

export class GetFireLlavaState extends CallState {
  plan = $state<ConversionPlan | null>(null);
  job = $state<ConversionJob | null>(null);
  quant = $state('');
  deleteCheckpoint = $state(true);
  activate = $state(true);
  accepted = $state(false);
  /** The panel is open (it opens by itself when a job is running). */
  open = $state(false);
  /** The progress view is showing (a job was started or is running). */
  following = $state(false);
  loading = $state(false);

  readonly chosen = $derived(this.plan?.quants.find((q) => q.quant === this.quant) ?? null);
  /** Bytes still to download and to write, with the margin. */
  readonly need = $derived.by(() => {
    const p = this.plan;
    if (!p?.download || this.chosen?.outputBytes == null) return null;
    const download = Math.max(0, p.download.totalBytes - p.download.haveBytes);
    const output = this.chosen.outputBytes;
    return { download, output, total: Math.ceil((download + output) * (1 + p.margin)) };
  });
  readonly enoughSpace = $derived(this.need === null || this.plan?.freeBytes == null || this.plan.freeBytes >= this.need.total);
  readonly canStart = $derived(
    !this.busy && this.accepted && this.plan?.download != null && this.chosen !== null && !this.chosen.installed && this.enoughSpace && this.job?.state !== 'running',
  );

  private watch: StreamHandle | null = null;

  constructor(private readonly client: ContractClient) {
    super();
  }

  /** Follows the job (a running one opens the panel at its progress view). */
  start(): void {
    this.watch ??= this.client.stream('convert.watch', {}, (e) => {
      this.job = e.job;
      if (e.job?.state === 'running') this.open = this.following = true;
    });
  }

  stop(): void {
    this.watch?.cancel();
    this.watch = null;
  }

  async show(): Promise<void> {
    this.open = true;
    await this.loadPlan();
  }

  async loadPlan(): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      const plan = this.unwrap(await this.client.call('convert.plan', {}));
      if (plan) {
        this.plan = plan;
        if (!plan.quants.some((q) => q.quant === this.quant)) this.quant = plan.defaultQuant;
      }
    } finally {
      this.loading = false;
    }
  }

  /** Starts with the chosen options, or again with those of an earlier job (after a reload too). */
  async begin(again?: ConversionJob): Promise<void> {
    this.busy = true;
    this.error = null;
    const options = again
      ? { quant: again.quant, repo: again.repo, revision: again.revision, deleteCheckpoint: again.deleteCheckpoint, activate: again.activate }
      : { quant: this.quant, deleteCheckpoint: this.deleteCheckpoint, activate: this.activate };
    try {
      const job = this.unwrap(await this.client.call('convert.start', options));
      if (job) {
        this.job = job;
        this.following = true;
      }
    } finally {
      this.busy = false;
    }
  }

  async cancel(): Promise<void> {
    this.busy = true;
    try {
      this.unwrap(await this.client.call('convert.cancel', {}));
    } finally {
      this.busy = false;
    }
  }

  /** Deletes the downloaded checkpoint; resolves with the bytes freed. */
  async discard(): Promise<number | null> {
    this.busy = true;
    try {
      const r = this.unwrap(await this.client.call('convert.discard', {}));
      await this.loadPlan();
      return r?.freedBytes ?? null;
    } finally {
      this.busy = false;
    }
  }

  /** Back from the progress view to the choices (after an error, a stop or when done). */
  async back(): Promise<void> {
    this.following = false;
    await this.loadPlan();
  }

  async saveToken(token: string | null): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      const ok = this.unwrap(await this.client.call('models.setToken', { token })) !== null;
      if (ok) await this.loadPlan();
      return ok;
    } finally {
      this.busy = false;
    }
  }

  percent(): number | null {
    return this.job ? percent(this.job.progress.bytesDone, this.job.progress.bytesTotal) : null;
  }
}
