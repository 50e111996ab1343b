// The view of a download job that the renderer and CLI see: per-file and per-pair progress.
import type { DownloadJob } from '../shared/contracts/models';
import type { FileSpec } from './pull-plan';

/** Bytes are moving or about to (a second pull of the same pair joins this job). */
export function isRunning(state: DownloadJob['state'] | undefined): boolean {
  return state === 'downloading' || state === 'checking' || state === 'verifying';
}

export function newJobView(id: string, name: string, files: FileSpec[]): DownloadJob {
  return {
    id,
    name,
    state: 'checking',
    files: files.map((f) => ({ role: f.role, fileName: f.fileName, receivedBytes: 0, totalBytes: f.size, bytesPerSecond: 0, etaSeconds: null, done: false })),
    total: { receivedBytes: 0, totalBytes: null, bytesPerSecond: 0, etaSeconds: null },
    error: null,
  };
}

export function updateTotal(view: DownloadJob): void {
  const totals = view.files.map((f) => f.totalBytes);
  const received = view.files.reduce((s, f) => s + f.receivedBytes, 0);
  const total = totals.every((t) => t !== null) ? (totals as number[]).reduce((s, t) => s + t, 0) : null;
  const speed = view.files.reduce((s, f) => s + (f.done ? 0 : f.bytesPerSecond), 0);
  view.total = { receivedBytes: received, totalBytes: total, bytesPerSecond: speed, etaSeconds: total !== null && speed > 0 ? (total - received) / speed : null };
}
