// The terminal progress of a catalog job: one redrawn line on a terminal, else one line per
// finished item (logs and pipes stay readable).
import type { CatalogJobView } from '../shared/contracts/catalog';

const WIDTH = 24;

export function formatEta(seconds: number | null): string {
  if (seconds === null) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function progressLine(job: CatalogJobView): string {
  const p = job.progress;
  const finished = p.done + p.failed;
  const filled = p.total === 0 ? WIDTH : Math.round((finished / p.total) * WIDTH);
  const now = p.running[0];
  return [
    `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`,
    `${finished}/${p.total}`,
    p.failed ? `${p.failed} failed` : '',
    `ETA ${formatEta(p.etaSeconds)}`,
    now ? `${now.fileName}: ${now.phase}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

export function createProgressPrinter(out: NodeJS.WriteStream): { update(job: CatalogJobView): void; end(): void } {
  let lastFinished = -1;
  let drawn = false;
  return {
    update(job) {
      const finished = job.progress.done + job.progress.failed;
      if (out.isTTY) {
        const line = progressLine(job).slice(0, Math.max(20, (out.columns || 100) - 1));
        out.write(`\r\x1b[2K${line}`);
        drawn = true;
      } else if (finished !== lastFinished) {
        out.write(`${progressLine({ ...job, progress: { ...job.progress, running: [] } })}\n`);
      }
      lastFinished = finished;
    },
    end() {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}
