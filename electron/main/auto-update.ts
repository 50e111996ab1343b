// Updates from the publish target electron-builder was given. With `publish: null` (today) the
// build has no app-update.yml and nothing is ever checked. A check runs in the background after
// the window is up and swallows every failure: being offline is normal for this app.
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface UpdaterLike {
  autoDownload: boolean;
  checkForUpdatesAndNotify(): Promise<unknown>;
}

export interface UpdateEnvironment {
  isPackaged: boolean;
  /** process.resourcesPath in the packaged app. */
  resourcesPath: string;
  /** FIRELLAVA_NO_UPDATES=1 turns checks off (managed installs, tests). */
  env: NodeJS.ProcessEnv;
  fileExists?: (file: string) => boolean;
}

/** Only a packaged build that electron-builder gave a publish target (app-update.yml) checks. */
export function shouldCheckForUpdates(e: UpdateEnvironment): boolean {
  if (!e.isPackaged || e.env.FIRELLAVA_NO_UPDATES === '1') return false;
  return (e.fileExists ?? existsSync)(path.join(e.resourcesPath, 'app-update.yml'));
}

/** Starts one background check; resolves false when it did not run or failed, never rejects. */
export async function checkForUpdatesInBackground(
  e: UpdateEnvironment,
  loadUpdater: () => Promise<UpdaterLike>,
  log: (message: string) => void = () => {},
): Promise<boolean> {
  if (!shouldCheckForUpdates(e)) return false;
  try {
    const updater = await loadUpdater();
    updater.autoDownload = true;
    await updater.checkForUpdatesAndNotify();
    return true;
  } catch (err) {
    log(`update check skipped: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}
