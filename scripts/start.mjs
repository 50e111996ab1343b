// `npm start`: the desktop app. Electron's package downloads its binary on first use; offline that
// ends in a "fetch failed" stack trace, so this says in one line what happened and what works
// without it, before building anything. Then build and run Electron, passing signals on.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const electronDir = path.dirname(require.resolve('electron/package.json'));

// install.js exits at once when the binary is there, else downloads it (progress on stdout).
const install = spawnSync(process.execPath, [path.join(electronDir, 'install.js')], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
if (install.status !== 0) {
  const reason = (install.stderr ?? '').split('\n').find((l) => l.trim() !== '')?.replace(/^\w*Error: /, '') ?? `exit ${install.status}`;
  console.error(`npm start: Electron is not installed yet and its download (from the internet, on first start) failed: ${reason}. "npm run serve" runs the same app in your browser without Electron.`);
  process.exit(1);
}

const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (build.status !== 0) process.exit(build.status ?? 1);

const child = spawn(require('electron'), ['.', ...process.argv.slice(2)], { stdio: 'inherit', windowsHide: false });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
// npm's shell does not pass SIGTERM on (see serve.mjs): when it is gone, stop Electron too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) child.kill('SIGTERM');
}, 250).unref();
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
