// How the host starts its worker. Node uses child_process.fork; the Electron main process passes
// a spawner built on utilityProcess.fork (electron/main), with the same worker entry file.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
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

/** Past this the host empties the output file (after reading it), so a long session stays small. */
const OUTPUT_FILE_LIMIT = 1024 * 1024;
const OUTPUT_SWEEP_MS = 5000;

/**
 * An unlinked file in RAM for the worker's stdout and stderr, or null where there is none (only
 * Linux has /dev/shm; elsewhere the output goes through pipes). Opened exclusively, owner-only.
 */
function openOutputFile(): number | null {
  if (process.platform !== 'linux') return null;
  const file = path.join('/dev/shm', `firellava-engine-${process.pid}-${randomUUID()}.log`);
  try {
    const fd = openSync(file, 'ax+', 0o600);
    unlinkSync(file);
    return fd;
  } catch {
    return null;
  }
}

/**
 * Native output kept in a file: llama.cpp logs dozens of lines per image, and through a pipe each
 * one woke the host (about 2-3 ms of host CPU per answer on a 2-core machine). The host reads what
 * is new only when the worker answers a request, says it is ready, or exits, so output written
 * before any of those is seen before it (a crash report or a devices answer has its log lines).
 */
class OutputFile {
  private offset = 0;
  private closed = false;
  private readonly decoder = new StringDecoder('utf8');
  private readonly listeners: Array<(chunk: string) => void> = [];
  /** Also read now and then, so a worker that logs for long without answering cannot fill /dev/shm. */
  private readonly sweep = setInterval(() => this.drain(), OUTPUT_SWEEP_MS).unref();

  constructor(readonly fd: number) {}

  onOutput(listener: (chunk: string) => void): void {
    this.listeners.push(listener);
  }

  drain(): void {
    if (this.closed) return;
    let size: number;
    try {
      size = fstatSync(this.fd).size;
    } catch {
      return;
    }
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return;
    const start = Math.max(this.offset, size - OUTPUT_FILE_LIMIT);
    const bytes = Buffer.alloc(size - start);
    const read = readSync(this.fd, bytes, 0, bytes.length, start);
    this.offset = start + read;
    const text = this.decoder.write(bytes.subarray(0, read));
    if (this.offset > OUTPUT_FILE_LIMIT) {
      // Lines written between the read and this truncation are lost; rare and only log text.
      ftruncateSync(this.fd, 0);
      this.offset = 0;
    }
    if (text) for (const listener of this.listeners) listener(text);
  }

  close(): void {
    if (this.closed) return;
    this.drain();
    this.closed = true;
    clearInterval(this.sweep);
    closeSync(this.fd);
  }
}

function spawnNode(entry: string, live: boolean): WorkerProcess {
  const file = live ? null : openOutputFile();
  const output = file === null ? null : new OutputFile(file);
  const child = fork(entry, [], {
    stdio: ['ignore', file ?? 'pipe', file ?? 'pipe', 'ipc'],
    serialization: 'advanced',
    env: workerEnv(),
  });
  child.once('exit', () => output?.close());
  child.once('error', () => output?.close());
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) =>
      child.on('message', (m: WorkerToHost) => {
        // Not for streamed events: the first token should not wait for a read of the prompt's log.
        if (m.type !== 'event') output?.drain();
        listener(m);
      }),
    // Registered after the close above, so listeners see the last output first.
    onExit: (listener) => child.once('exit', (code, signal) => listener(code, signal)),
    onOutput: (listener) => {
      if (output) {
        output.onOutput(listener);
        return;
      }
      child.stdout?.setEncoding('utf8').on('data', listener);
      child.stderr?.setEncoding('utf8').on('data', listener);
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

/** The worker as a Node child process; its native output is read with each answer and at exit. */
export const spawnNodeWorker: SpawnWorker = (entry) => spawnNode(entry, false);

/** The same, with native output streamed through pipes as it is written (`serve --verbose`). */
export const spawnNodeWorkerLive: SpawnWorker = (entry) => spawnNode(entry, true);
