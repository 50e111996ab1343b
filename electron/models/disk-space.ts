// Free disk space before a download: all remaining bytes plus 10%, checked up front so a
// multi-gigabyte download never fails at 95%.
import { statfs } from 'node:fs/promises';
import { formatBytes } from '../shared/format';

export type FreeSpaceFn = (dir: string) => Promise<number>;

export const systemFreeSpace: FreeSpaceFn = async (dir) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

export const DISK_MARGIN = 0.1;

/** null when enough space is free, else the message to show. */
export async function checkDiskSpace(dir: string, remainingBytes: number, freeSpace: FreeSpaceFn = systemFreeSpace): Promise<string | null> {
  const need = Math.ceil(remainingBytes * (1 + DISK_MARGIN));
  const free = await freeSpace(dir);
  if (free >= need) return null;
  return `Not enough disk space in ${dir}: the download needs ${formatBytes(need)} (${formatBytes(remainingBytes)} of files plus 10%) but only ${formatBytes(free)} is free. Free ${formatBytes(need - free)} or choose another data folder.`;
}
