// `npm run serve`: build, then run the server in this process. npm starts scripts through a shell;
// on SIGTERM npm ends that shell, which does not pass the signal on, so the server would outlive
// npm. When the shell that started us is gone (we were re-parented), stop as if signalled.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (build.status !== 0) process.exit(build.status ?? 1);
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 250).unref();
process.argv.splice(2, 0, 'serve');
createRequire(import.meta.url)('../bin/firellava.cjs');
