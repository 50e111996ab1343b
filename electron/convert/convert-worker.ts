// worker_threads entry with two roles. 'convert' (default): runs one conversion off the caller's
// thread; messages in: {type:'cancel'}; out: progress events, then exactly one 'done' or 'error'.
// 'encode': a pool worker that quantizes chunks for the converting thread (encode-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { convertLlava } from './convert-llava';
import type { WorkerMessage, WorkerRequest } from './convert-runner';
import { serveEncodeTasks } from './encode-pool';
import { CheckpointError } from './safetensors';

const port = parentPort;
if (!port) throw new Error('convert-worker must run in a worker thread');

if ((workerData as { role?: string } | undefined)?.role === 'encode') {
  serveEncodeTasks(port);
} else {
  const ac = new AbortController();
  port.on('message', (m: { type?: string }) => {
    if (m?.type === 'cancel') ac.abort();
  });
  const post = (m: WorkerMessage): void => port.postMessage(m);
  const req = workerData as WorkerRequest;
  let last = 0;
  convertLlava({
    ...req.options,
    // The pool runs this same file in its 'encode' role.
    encodeWorkerEntry: __filename,
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
}
