// Plain formatting for the model manager view (no runes, so it is unit-tested in Node).
import type { CatalogItem, DownloadJob, FitReport, InstalledModel, PairStatus } from '../../../electron/shared/contracts/models';
import { formatBytes, formatRate } from '../../../electron/shared/format';

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s left`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s left`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min left`;
}

/** 0..100, or null when the total is unknown. */
export function percent(received: number, total: number | null): number | null {
  if (!total) return null;
  return Math.min(100, (100 * received) / total);
}

export type Tone = 'good' | 'warn' | 'bad' | 'neutral';

export function fitBadge(fit: FitReport | null): { label: string; tone: Tone; title: string } {
  if (!fit) return { label: 'Fit unknown', tone: 'neutral', title: 'Validate the files to estimate' };
  if (fit.fit === 'full') return { label: 'Fits on GPU', tone: 'good', title: fit.summary };
  if (fit.fit === 'partial') return { label: `GPU ${fit.gpuLayers}/${fit.totalLayers} layers`, tone: 'warn', title: fit.summary };
  return { label: 'CPU only', tone: 'bad', title: fit.summary };
}

const STATUS: Record<PairStatus, { label: string; tone: Tone }> = {
  ready: { label: 'Ready', tone: 'good' },
  incomplete: { label: 'Incomplete', tone: 'warn' },
  invalid: { label: 'Not a usable pair', tone: 'bad' },
  missing: { label: 'Files missing', tone: 'bad' },
  broken: { label: 'Crashes the engine', tone: 'bad' },
};

export function statusBadge(status: PairStatus): { label: string; tone: Tone } {
  return STATUS[status];
}

/** Download size of a catalog entry: the files' sizes when known, else the estimate. */
export function catalogSize(item: CatalogItem): { bytes: number; estimate: boolean } {
  const sizes = item.entry.files.map((f) => f.size);
  if (sizes.every((s) => s !== null)) return { bytes: (sizes as number[]).reduce((a, b) => a + b, 0), estimate: false };
  return { bytes: item.entry.estimate.modelBytes + item.entry.estimate.mmprojBytes, estimate: true };
}

export function jobLine(job: DownloadJob): string {
  const t = job.total;
  const size = `${formatBytes(t.receivedBytes)} of ${formatBytes(t.totalBytes)}`;
  switch (job.state) {
    case 'checking':
      return 'Checking access and disk space…';
    case 'downloading':
      return [size, formatRate(t.bytesPerSecond), formatEta(t.etaSeconds)].filter(Boolean).join(' · ');
    case 'paused':
      return `Paused at ${size}`;
    case 'verifying':
      return 'Checking the pair…';
    case 'done':
      return `Done: ${formatBytes(t.receivedBytes)}`;
    case 'cancelled':
      return 'Cancelled; partial files removed';
    case 'error':
      return job.error ? `${job.error.message}${job.error.action ? ` ${job.error.action}` : ''}` : 'Failed';
  }
}

/** First run: nothing installed, so preselect the catalog's first entry (FireLLaVA-13B). */
export function firstRunChoice(catalog: CatalogItem[], installed: InstalledModel[]): string | null {
  if (installed.some((m) => m.status === 'ready')) return null;
  return catalog[0]?.entry.id ?? null;
}
