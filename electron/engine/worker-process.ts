// How the host starts its worker. Node uses child_process.fork; the Electron main process passes
// a spawner built on utilityProcess.fork (electron/main), with the same worker entry file.
import { fork } from 'node:child_process';
import type { HostToWorker, WorkerToHost } from './worker-protocol';

export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: HostToWorker): void;
  onMessage(listener: (message: WorkerToHost) => void): void;
  /** Called once when the process is gone, for any reason. */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  /** Native logs (llama.cpp writes to stdout/stderr); kept so a crash can say why. */
  onOutput(listener: (chunk: string) => void): void;
  kill(): void;
}

export type SpawnWorker = (entry: string) => WorkerProcess;

export const spawnNodeWorker: SpawnWorker = (entry) => {
  const child = fork(entry, [], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as WorkerToHost)),
    onExit: (listener) => child.once('exit', (code, signal) => listener(code, signal)),
    onOutput: (listener) => {
      child.stdout?.setEncoding('utf8').on('data', listener);
      child.stderr?.setEncoding('utf8').on('data', listener);
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
};
