// The engine worker as an Electron utilityProcess: same entry file and envelope as the Node fork.
import { utilityProcess } from 'electron';
import { workerEnv, type SpawnWorker } from '../engine/worker-process';
import type { WorkerToHost } from '../engine/worker-protocol';

export const spawnUtilityWorker: SpawnWorker = (entry) => {
  // The malloc tunables of the Node worker (workerEnv); whether Electron's allocator honours them is unmeasured.
  const child = utilityProcess.fork(entry, [], { stdio: 'pipe', serviceName: 'FireLLaVA engine', env: workerEnv() });
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => child.postMessage(message),
    onMessage: (listener) => child.on('message', (message: WorkerToHost) => listener(message)),
    onExit: (listener) => child.once('exit', (code) => listener(code, null)),
    onOutput: (listener) => {
      child.stdout?.setEncoding('utf8').on('data', listener);
      child.stderr?.setEncoding('utf8').on('data', listener);
    },
    kill: () => {
      child.kill();
    },
  };
};
