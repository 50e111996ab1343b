// Quantizing is CPU-bound (disk is faster than one core), so chunks are encoded by a pool of
// worker threads while the converter keeps reading. Results come back in submission order.
import { Worker } from 'node:worker_threads';
import { tensorByteSize } from '../gguf/ggml-types';
import { decodeToF32, type SafetensorsDtype } from './safetensors';
import { encodeRowInto } from './quantize';

export interface EncodeTask {
  dtype: SafetensorsDtype;
  /** ggml type to produce. */
  type: number;
  raw: Uint8Array;
  rows: number;
  rowLength: number;
  /** Rows per head to permute for rotary (0: none; see permute.ts). */
  headDim: number;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
let scratch = new Float32Array(0);

/**
 * What a pool worker does with one task; also used on the caller's thread when there is no pool.
 * Row by row through one reused float32 row (it stays in cache, and nothing chunk-sized is
 * allocated but the output); the rotary permutation only changes which source row is read.
 */
export function encodeTask(t: EncodeTask, inPlace = false): Uint8Array {
  const inRow = t.rowLength * DTYPE_BYTES[t.dtype];
  const outRow = tensorByteSize(t.type, [t.rowLength]);
  // In place when rows keep their order and do not grow: output row r only covers input rows
  // <= r, which were already decoded.
  const out = inPlace && !t.headDim && outRow <= inRow ? t.raw.subarray(0, outRow * t.rows) : new Uint8Array(outRow * t.rows);
  if (scratch.length < t.rowLength) scratch = new Float32Array(t.rowLength);
  const row = scratch.length === t.rowLength ? scratch : scratch.subarray(0, t.rowLength);
  const half = t.headDim / 2;
  if (t.headDim && (t.rows % t.headDim !== 0 || t.headDim % 2 !== 0)) throw new RangeError(`${t.rows} rows are not whole heads of ${t.headDim}`);
  for (let r = 0; r < t.rows; r++) {
    let from = r;
    if (t.headDim) {
      // new row 2j + i <- old row i * d/2 + j, per head
      const k = r % t.headDim;
      from = r - k + (k & 1) * half + (k >> 1);
    }
    decodeToF32(t.dtype, t.raw.subarray(from * inRow, from * inRow + inRow), row);
    encodeRowInto(t.type, row, 0, t.rowLength, out, r * outRow);
  }
  return out;
}

export interface EncodePool {
  readonly size: number;
  /** Encodes in a worker; `task.raw` is transferred (unusable here afterwards). */
  encode(task: EncodeTask): Promise<Uint8Array>;
  /** Buffers the workers handed back, for reading the next chunks into. */
  readonly buffers: ChunkBuffers;
  close(): Promise<void>;
}

/**
 * Chunk buffers passed around instead of allocated per chunk: a fresh megabyte costs about a
 * millisecond of page faults here, as much as quantizing a third of it.
 */
export class ChunkBuffers {
  private readonly free: ArrayBuffer[] = [];
  constructor(private readonly keep = 8) {}

  /** A buffer of exactly `bytes` (a recycled one when one is big enough), at offset 0. */
  take(bytes: number): Uint8Array {
    const i = this.free.findIndex((b) => b.byteLength >= bytes);
    if (i >= 0) return new Uint8Array(this.free.splice(i, 1)[0] as ArrayBuffer, 0, bytes);
    const b = Buffer.allocUnsafeSlow(bytes); // own ArrayBuffer, not from Node's shared pool
    return new Uint8Array(b.buffer, 0, bytes);
  }

  give(buffer: ArrayBufferLike): void {
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || this.free.includes(buffer)) return;
    this.free.push(buffer);
    if (this.free.length > this.keep) {
      this.free.sort((a, b) => b.byteLength - a.byteLength);
      this.free.length = this.keep;
    }
  }
}

interface Pending {
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

interface EncodeReply {
  id: number;
  out?: Uint8Array;
  /** The task's input buffer when the output did not reuse it. */
  spare?: ArrayBuffer;
  error?: string;
}

/** `entry` is a worker file that calls serveEncodeTasks() when workerData.role is 'encode'. */
export function createEncodePool(entry: string, size: number): EncodePool {
  const workers: { w: Worker; busy: number }[] = [];
  const pending = new Map<number, Pending>();
  const buffers = new ChunkBuffers(2 * size + 4);
  let nextId = 0;
  let failed: Error | undefined;
  for (let i = 0; i < size; i++) {
    const w = new Worker(entry, { workerData: { role: 'encode' } });
    const slot = { w, busy: 0 };
    w.on('message', (m: EncodeReply) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      slot.busy--;
      if (m.spare) buffers.give(m.spare);
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
    buffers,
    encode(task: EncodeTask): Promise<Uint8Array> {
      if (failed) return Promise.reject(failed);
      const slot = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      const id = nextId++;
      slot.busy++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
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
      const raw = m.task.raw.buffer as ArrayBuffer;
      const out = encodeTask(m.task, true);
      const reply: EncodeReply = { id: m.id, out };
      const transfer = [out.buffer as ArrayBuffer];
      if (out.buffer !== raw) {
        reply.spare = raw;
        transfer.push(raw);
      }
      port.postMessage(reply, transfer);
    } catch (err) {
      port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies EncodeReply);
    }
  });
}
