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

/**
 * glibc malloc settings for the worker, in the values its own heuristic grows to after a large free
 * (mmap 32 MiB, trim twice that). A fresh process starts at 128 kB, so each image's decode buffers
 * went back to the kernel after every answer and were page-faulted in again on the next one: on
 * the tiny model that doubled the time to the first token with an image.
 */
export const WORKER_MALLOC_TUNABLES: Readonly<Record<string, string>> = {
  'glibc.malloc.mmap_threshold': String(32 * 1024 * 1024),
  'glibc.malloc.trim_threshold': String(64 * 1024 * 1024),
};

/** The worker's environment: the parent's, plus malloc tunables on Linux that the user did not set. */
export function workerEnv(base: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (platform !== 'linux') return { ...base };
  const own = (base.GLIBC_TUNABLES ?? '').split(':').filter((entry) => entry.includes('='));
  const taken = new Set(own.map((entry) => entry.slice(0, entry.indexOf('='))));
  const added = Object.entries(WORKER_MALLOC_TUNABLES)
    .filter(([key]) => !taken.has(key))
    .map(([key, value]) => `${key}=${value}`);
  return { ...base, GLIBC_TUNABLES: [...own, ...added].join(':') };
}

export const spawnNodeWorker: SpawnWorker = (entry) => {
  const child = fork(entry, [], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
    env: workerEnv(),
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
