import { describe, expect, it } from 'vitest';
import { formatBytes, formatRate, formatTokenRate } from '../../electron/shared/format';
import { jobLine } from '../../renderer/src/models/model-view';
import type { DownloadJob } from '../../electron/shared/contracts/models';

describe('human sizes and rates', () => {
  it('prints whole bytes and one decimal above a kilobyte', () => {
    expect(formatBytes(682.2118587608262)).toBe('682 B');
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1400)).toBe('1.4 KB');
    expect(formatBytes(1_432_000)).toBe('1.4 MB');
    expect(formatBytes(26_100_000_000)).toBe('26.1 GB');
    expect(formatBytes(null)).toBe('?');
  });

  it('prints a rate with one function and hides one that was not measured', () => {
    expect(formatRate(682.2118587608262)).toBe('682 B/s');
    expect(formatRate(1_432_000.77)).toBe('1.4 MB/s');
    expect(formatRate(0)).toBe('');
    expect(formatRate(Number.NaN)).toBe('');
    expect(formatRate(null)).toBe('');
  });

  it('hides a token rate of 0 (an answer stopped before its first token)', () => {
    expect(formatTokenRate(12.345)).toBe('12.3 tok/s');
    expect(formatTokenRate(0)).toBe('');
    expect(formatTokenRate(undefined)).toBe('');
  });

  it('a download line shows the rate rounded, and no rate while it is 0', () => {
    const job = (bytesPerSecond: number): DownloadJob => ({
      id: 'm', name: 'm', state: 'downloading', files: [], error: null,
      total: { receivedBytes: 1_000_000, totalBytes: 26_100_000_000, bytesPerSecond, etaSeconds: null },
    });
    expect(jobLine(job(682.2118587608262))).toBe('1.0 MB of 26.1 GB · 682 B/s');
    expect(jobLine(job(0))).toBe('1.0 MB of 26.1 GB');
  });
});
