// worker_threads entry: runs one conversion off the caller's thread. Messages in: {type:'cancel'}.
// Messages out: progress events, then exactly one 'done' or 'error'.
import { parentPort, workerData } from 'node:worker_threads';
import { convertLlava } from './convert-llava';
import type { WorkerRequest, WorkerMessage } from './convert-runner';
import { CheckpointError } from './safetensors';

const port = parentPort;
if (!port) throw new Error('convert-worker must run in a worker thread');
const ac = new AbortController();
port.on('message', (m: { type?: string }) => {
  if (m?.type === 'cancel') ac.abort();
});
const post = (m: WorkerMessage): void => port.postMessage(m);
const req = workerData as WorkerRequest;
let last = 0;
convertLlava({
  ...req.options,
  signal: ac.signal,
  onProgress: (p) => {
    // Tiny tensors come by the thousand: at most ~20 messages a second, but every phase change.
    const now = Date.now();
    if (p.phase !== 'convert' || now - last >= 50 || p.tensorsDone === p.tensorsTotal) {
      last = now;
      post({ type: 'progress', progress: p });
    }
  },
}).then(
  (result) => {
    post({ type: 'done', result });
    port.close();
  },
  (err: unknown) => {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err), code: err instanceof CheckpointError ? err.code : 'INTERNAL' });
    port.close();
  },
);
