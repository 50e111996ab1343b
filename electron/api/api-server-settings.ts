// The own-port API server's settings in <dataDir>/api-server.json. Written atomically; a file that
// cannot be read is moved aside (never deleted) and the defaults apply, so the app always starts.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { apiServerSettingsPatch, DEFAULT_API_SERVER_SETTINGS, type ApiServerSettings } from '../shared/contracts/api-server';
import { formatZodError } from '../shared/dispatcher';
import { writePrivateFile } from '../store/private-files';

export const API_SERVER_SETTINGS_FILE = 'api-server.json';
const FILE_VERSION = 1;

export interface LoadedSettings {
  settings: ApiServerSettings;
  /** Set when the file was unreadable and moved aside; says where it went. */
  problem: string | null;
}

const defaults = (): ApiServerSettings => ({ ...DEFAULT_API_SERVER_SETTINGS, corsOrigins: [] });

export async function readApiServerSettings(file: string): Promise<LoadedSettings> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { settings: defaults(), problem: null };
    return { settings: defaults(), problem: `The API server settings could not be read (${(err as Error).message}); the defaults apply until you save.` };
  }
  let why: string;
  try {
    const parsed = JSON.parse(text) as { version?: unknown; settings?: unknown } | null;
    if (parsed?.version !== FILE_VERSION) throw new Error(`unknown format version ${JSON.stringify(parsed?.version ?? null)}`);
    const result = apiServerSettingsPatch.safeParse(parsed.settings);
    if (result.success) return { settings: { ...defaults(), ...result.data }, problem: null };
    why = formatZodError(result.error);
  } catch (err) {
    why = (err as Error).message;
  }
  const aside = `${file}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const moved = await fs.rename(file, aside).then(
    () => true,
    () => false,
  );
  return {
    settings: defaults(),
    problem: `The API server settings file was unreadable (${why.slice(0, 200)}), so the defaults apply (server off).${moved ? ` The old file was kept as ${path.basename(aside)}.` : ''}`,
  };
}

export async function writeApiServerSettings(file: string, settings: ApiServerSettings): Promise<void> {
  await writePrivateFile(file, `${JSON.stringify({ version: FILE_VERSION, settings }, null, 2)}\n`);
}
