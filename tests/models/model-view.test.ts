import { describe, expect, it } from 'vitest';
import type { CatalogItem, DownloadJob, FitReport } from '../../electron/shared/contracts/models';
import { catalogSize, firstRunChoice, fitBadge, formatEta, jobLine, percent } from '../../renderer/src/models/model-view';

const fit = (f: FitReport['fit'], gpuLayers = 0): FitReport => ({
  devices: [],
  fit: f,
  gpuLayers,
  totalLayers: 40,
  visionOnGpu: false,
  estimatedBytes: 0,
  nCtx: 4096,
  approximate: false,
  summary: 'why',
});

const job = (over: Partial<DownloadJob>): DownloadJob => ({
  id: 'm',
  name: 'M',
  state: 'downloading',
  files: [],
  total: { receivedBytes: 1_500_000_000, totalBytes: 8_000_000_000, bytesPerSecond: 50_000_000, etaSeconds: 130 },
  error: null,
  ...over,
});

describe('model manager view helpers', () => {
  it('badges say where the model runs', () => {
    expect(fitBadge(fit('full'))).toMatchObject({ label: 'Fits on GPU', tone: 'good' });
    expect(fitBadge(fit('partial', 22))).toMatchObject({ label: 'GPU 22/40 layers', tone: 'warn' });
    expect(fitBadge(fit('cpu'))).toMatchObject({ label: 'CPU only', tone: 'bad' });
  });

  it('progress lines show size, speed and time left; errors show the fix', () => {
    expect(jobLine(job({}))).toBe('1.5 GB of 8.0 GB · 50.0 MB/s · 2 min 10 s left');
    expect(jobLine(job({ state: 'paused' }))).toBe('Paused at 1.5 GB of 8.0 GB');
    expect(
      jobLine(job({ state: 'error', error: { code: 'FORBIDDEN', reason: 'GATED', message: 'Access denied (403) to m.gguf: accept the license at X and add a Hugging Face token', action: null } })),
    ).toMatch(/accept the license at X/);
    expect(formatEta(7300)).toBe('2 h 2 min left');
    expect(percent(5, null)).toBeNull();
    expect(percent(5, 10)).toBe(50);
  });

  it('first run preselects the first catalog entry and shows its estimated size', () => {
    const item = {
      entry: { id: 'firellava-13b', files: [{ size: null }, { size: null }], estimate: { modelBytes: 7_870_000_000, mmprojBytes: 624_000_000 } },
      installed: false,
      fit: null,
    } as unknown as CatalogItem;
    expect(firstRunChoice([item], [])).toBe('firellava-13b');
    expect(catalogSize(item)).toEqual({ bytes: 8_494_000_000, estimate: true });
  });
});
