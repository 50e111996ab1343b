// Quantizing is CPU-bound (disk is faster than one core), so chunks are encoded by a pool of
// worker threads while the converter keeps reading. Results come back in submission order.
import { Worker } from 'node:worker_threads';
import { decodeToF32, type SafetensorsDtype } from './safetensors';
import { encodeAs } from './quantize';
import { permuteRotaryRows } from './permute';

export interface EncodeTask {
  dtype: SafetensorsDtype;
  /** ggml type to produce. */
  type: number;
  raw: Uint8Array;
  rows: number;
  rowLength: number;
  /** Rows per head to permute for rotary (0: none). */
  headDim: number;
}

/** What a pool worker does with one task; also used on the caller's thread when there is no pool. */
export function encodeTask(t: EncodeTask): Uint8Array {
  let values = new Float32Array(t.rows * t.rowLength);
  decodeToF32(t.dtype, t.raw, values);
  if (t.headDim) values = permuteRotaryRows(values, t.rows, t.rowLength, t.headDim);
  return encodeAs(t.type, values);
}

export interface EncodePool {
  readonly size: number;
  encode(task: EncodeTask): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** `entry` is a worker file that calls serveEncodeTasks() when workerData.role is 'encode'. */
export function createEncodePool(entry: string, size: number): EncodePool {
  const workers: { w: Worker; busy: number }[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let failed: Error | undefined;
  for (let i = 0; i < size; i++) {
    const w = new Worker(entry, { workerData: { role: 'encode' } });
    const slot = { w, busy: 0 };
    w.on('message', (m: { id: number; out?: Uint8Array; error?: string }) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      slot.busy--;
      if (!p) return;
      if (m.out) p.resolve(m.out);
      else p.reject(new Error(m.error ?? 'encode failed'));
    });
    w.on('error', (err) => {
      failed = err;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
    w.unref();
    workers.push(slot);
  }
  return {
    size,
    encode(task: EncodeTask): Promise<Uint8Array> {
      if (failed) return Promise.reject(failed);
      const slot = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      const id = nextId++;
      slot.busy++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // The raw bytes are a private copy: transfer instead of cloning.
        slot.w.postMessage({ id, task }, [task.raw.buffer as ArrayBuffer]);
      });
    },
    async close(): Promise<void> {
      await Promise.all(workers.map((s) => s.w.terminate()));
    },
  };
}

/** Worker side: answers encode tasks until terminated. */
export function serveEncodeTasks(port: import('node:worker_threads').MessagePort): void {
  port.on('message', (m: { id: number; task: EncodeTask }) => {
    try {
      const out = encodeTask(m.task);
      // Transfer only when `out` owns its whole buffer (F32 output may be a view).
      const own = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
      const msg = { id: m.id, out: own ? out : out.slice() };
      port.postMessage(msg, [msg.out.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
}
