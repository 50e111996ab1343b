import { describe, expect, it } from 'vitest';
import { formatBytes, formatRate, formatRelativeDate, formatTokenRate } from '../../electron/shared/format';
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

describe('relative dates in the conversation list', () => {
  it('says minutes and hours today, Yesterday, then the date (with the year only for another year)', () => {
    const now = new Date(2026, 11, 3, 14, 30).getTime();
    const at = (d: number, h: number, m = 0, y = 2026, mo = 11) => new Date(y, mo, d, h, m).getTime();
    expect(formatRelativeDate(now - 10_000, now)).toBe('Just now');
    expect(formatRelativeDate(now - 2 * 60_000 - 5_000, now)).toBe('2 min ago');
    expect(formatRelativeDate(at(3, 9), now)).toBe('5 h ago');
    expect(formatRelativeDate(at(2, 23, 50), now)).toBe('Yesterday');
    expect(formatRelativeDate(at(28, 12, 0, 2026, 10), now, 'en-GB')).toBe('28 Nov');
    expect(formatRelativeDate(at(28, 12, 0, 2025, 10), now, 'en-GB')).toBe('28 Nov 2025');
  });
});
