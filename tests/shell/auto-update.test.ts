import { describe, expect, it } from 'vitest';
import { checkForUpdatesInBackground, shouldCheckForUpdates, type UpdaterLike } from '../../electron/main/auto-update';

const packaged = (files: string[], env: NodeJS.ProcessEnv = {}) => ({
  isPackaged: true,
  resourcesPath: '/app/resources',
  env,
  fileExists: (f: string) => files.includes(f),
});

describe('auto-update', () => {
  it('is off while no publish target was configured (no app-update.yml), in development, and when disabled', () => {
    expect(shouldCheckForUpdates(packaged([]))).toBe(false);
    expect(shouldCheckForUpdates({ ...packaged(['/app/resources/app-update.yml']), isPackaged: false })).toBe(false);
    expect(shouldCheckForUpdates(packaged(['/app/resources/app-update.yml'], { FIRELLAVA_NO_UPDATES: '1' }))).toBe(false);
    expect(shouldCheckForUpdates(packaged(['/app/resources/app-update.yml']))).toBe(true);
  });

  it('never loads the updater when off', async () => {
    let loaded = false;
    const ran = await checkForUpdatesInBackground(packaged([]), async () => {
      loaded = true;
      throw new Error('should not load');
    });
    expect(ran).toBe(false);
    expect(loaded).toBe(false);
  });

  it('an offline check fails quietly: no throw, one log line', async () => {
    const logs: string[] = [];
    const offline: UpdaterLike = { autoDownload: false, checkForUpdatesAndNotify: () => Promise.reject(new Error('net::ERR_INTERNET_DISCONNECTED')) };
    const ran = await checkForUpdatesInBackground(packaged(['/app/resources/app-update.yml']), async () => offline, (m) => logs.push(m));
    expect(ran).toBe(false);
    expect(logs).toEqual(['update check skipped: net::ERR_INTERNET_DISCONNECTED']);
  });

  it('with a publish target, checks and downloads in the background', async () => {
    const updater: UpdaterLike = { autoDownload: false, checkForUpdatesAndNotify: async () => null };
    expect(await checkForUpdatesInBackground(packaged(['/app/resources/app-update.yml']), async () => updater)).toBe(true);
    expect(updater.autoDownload).toBe(true);
  });
});
