// `firellava models`: the installed pairs, their status and which one is active.
import os from 'node:os';
import path from 'node:path';
import { formatBytes } from '../../shared/format';
import { ModelManager } from '../../models/model-manager';
import { parseCommand } from '../parse-command';

const USAGE = `Usage: firellava models [--data-dir DIR] [--json]

Lists the installed model pairs, their status (ready, incomplete, invalid, missing) and the active one.
  --data-dir DIR   where models are kept (default ~/.firellava)
  --json           machine-readable output
  -h, --help       show this help`;

export async function run(argv: string[]): Promise<number> {
  const cli = parseCommand(
    argv,
    { 'data-dir': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    USAGE,
  );
  if (cli.exitCode !== undefined) return cli.exitCode;
  const { values } = cli;
  const dataDir = path.resolve(values['data-dir'] ?? path.join(os.homedir(), '.firellava'));
  const models = await new ModelManager({ dataDir }).list();
  if (values.json) {
    console.log(JSON.stringify(models, null, 2));
    return 0;
  }
  if (models.length === 0) {
    console.log(`No models in ${path.join(dataDir, 'models')}. Add one with: firellava pull --data-dir ${dataDir} --model-url URL --mmproj-url URL`);
    return 0;
  }
  for (const m of models) {
    console.log(`${m.active ? '*' : ' '} ${m.id.padEnd(32)} ${m.status.padEnd(10)} ${formatBytes(m.diskBytes).padStart(9)}  ${m.name}`);
    if (m.problem) console.log(`    ${m.problem}`);
  }
  return 0;
}
