// Safetensors checkpoints (one file, or shards listed by model.safetensors.index.json) read
// tensor by tensor: only headers are parsed up front, data is read in row ranges on demand.
import { existsSync } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { f16ToF32 } from '../gguf/gguf-writer';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface CheckpointTensor {
  name: string;
  file: string;
  dtype: SafetensorsDtype;
  /** HF/PyTorch order: shape[last] is contiguous. */
  shape: number[];
  /** Absolute byte offset of the data in `file`. */
  offset: number;
  byteSize: number;
}

export class CheckpointError extends Error {
  constructor(
    message: string,
    readonly code: 'NOT_LLAVA' | 'MISSING_SHARD' | 'BAD_SHAPE' | 'BAD_FILE' | 'MISSING_TENSOR' | 'CANCELLED' | 'NO_SPACE',
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Byte sizes of the other safetensors dtypes, for bounds checks of tensors we never convert. */
const OTHER_DTYPE_BYTES: Record<string, number> = { F64: 8, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };

export interface SafetensorsHeader {
  tensors: CheckpointTensor[];
  /** Tensors in another dtype (e.g. int64 position_ids buffers of older CLIP checkpoints): name -> dtype. */
  other: Map<string, string>;
}

/** Parses one safetensors header; checks every tensor lies inside the file. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(`shard ${basename(file)} is missing`, 'MISSING_SHARD');
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const bad = (why: string): CheckpointError => new CheckpointError(`${basename(file)} is not a valid safetensors file: ${why}`, 'BAD_FILE');
    if (size < 8) throw bad('shorter than its 8-byte header length');
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) throw bad(`header length ${headerLen} does not fit the file`);
    const hb = Buffer.alloc(headerLen);
    await fh.read(hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw bad('header is not JSON');
    }
    const dataStart = 8 + headerLen;
    const out: CheckpointTensor[] = [];
    const other = new Map<string, string>();
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof t.dtype !== 'string') throw bad(`${name} has no dtype`);
      const isFloat = t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16';
      const shape = t.shape;
      const offs = t.data_offsets;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`${name} has a bad shape`);
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`${name} has bad data_offsets`);
      const [begin, end] = offs as [number, number];
      const n = (shape as number[]).reduce((a, b) => a * b, 1);
      const eb = isFloat ? DTYPE_BYTES[t.dtype as SafetensorsDtype] : OTHER_DTYPE_BYTES[t.dtype];
      if (eb !== undefined && end - begin !== n * eb) throw bad(`${name}: data_offsets do not match its shape`);
      if (end < begin || dataStart + end > size) throw bad(`${name} ends after the end of the file (truncated download?)`);
      if (isFloat) out.push({ name, file, dtype: t.dtype as SafetensorsDtype, shape: shape as number[], offset: dataStart + begin, byteSize: end - begin });
      else other.set(name, t.dtype);
    }
    return { tensors: out, other };
  } finally {
    await fh.close();
  }
}

export interface Checkpoint {
  dir: string;
  tensors: Map<string, CheckpointTensor>;
  /** Every data file, with its size. */
  files: { path: string; bytes: number }[];
  /** Tensors that are not F32/F16/BF16 (never needed by the converter): name -> dtype. */
  other: Map<string, string>;
}

/** The float tensor `name`, or a clear error when it is absent or stored in another dtype. */
export function requireTensor(c: Checkpoint, name: string): CheckpointTensor {
  const t = c.tensors.get(name);
  if (t) return t;
  const dtype = c.other.get(name);
  if (dtype) throw new CheckpointError(`tensor ${name} is stored as ${dtype}; only F32, F16 and BF16 weights can be converted`, 'BAD_FILE');
  throw new CheckpointError(`tensor ${name} is missing from the checkpoint`, 'MISSING_TENSOR');
}

/** Reads the index (or the single file) and every shard header. */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const indexPath = join(dir, INDEX_FILE);
  let shardNames: string[];
  let weightMap: Record<string, string> | undefined;
  if (existsSync(indexPath)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(await readFile(indexPath, 'utf8')) as typeof index;
    } catch {
      throw new CheckpointError(`${INDEX_FILE} is not valid JSON`, 'BAD_FILE');
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new CheckpointError(`${INDEX_FILE} has no weight_map`, 'BAD_FILE');
    weightMap = index.weight_map;
    shardNames = [...new Set(Object.values(weightMap))].sort();
  } else if (existsSync(join(dir, SINGLE_FILE))) {
    shardNames = [SINGLE_FILE];
  } else {
    throw new CheckpointError(`no ${INDEX_FILE} or ${SINGLE_FILE} in ${dir}`, 'NOT_LLAVA');
  }
  const missing = shardNames.filter((s) => !existsSync(join(dir, s)));
  if (missing.length) {
    throw new CheckpointError(`missing shard${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (download incomplete?)`, 'MISSING_SHARD');
  }
  const tensors = new Map<string, CheckpointTensor>();
  const other = new Map<string, string>();
  const files: Checkpoint['files'] = [];
  for (const s of shardNames) {
    const path = join(dir, s);
    files.push({ path, bytes: (await stat(path)).size });
    const h = await readSafetensorsHeader(path);
    for (const t of h.tensors) tensors.set(t.name, t);
    for (const [n, d] of h.other) other.set(n, d);
  }
  if (weightMap) {
    for (const [name, shard] of Object.entries(weightMap)) {
      if (!tensors.has(name) && !other.has(name)) throw new CheckpointError(`${INDEX_FILE} lists ${name} in ${shard}, but that shard does not contain it`, 'MISSING_TENSOR');
    }
  }
  return { dir, tensors, files, other };
}

/** Decodes raw little-endian F32/F16/BF16 bytes into `out`. */
export function decodeToF32(dtype: SafetensorsDtype, bytes: Uint8Array, out: Float32Array): void {
  const n = out.length;
  if (dtype === 'F32') {
    new Uint8Array(out.buffer, out.byteOffset, n * 4).set(bytes.subarray(0, n * 4));
  } else if (dtype === 'F16') {
    if (bytes.byteOffset % 2 === 0) {
      const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n); // little-endian hosts only, like ggml
      for (let i = 0; i < n; i++) out[i] = F16_TABLE[h[i] as number] as number;
    } else {
      for (let i = 0; i < n; i++) out[i] = F16_TABLE[(bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8)] as number;
    }
  } else {
    const bits = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = (((bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8)) << 16) >>> 0;
  }
}

// All 65536 half values: a table lookup is several times faster than decoding bits.
const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = f16ToF32(i);
  return t;
})();

/**
 * Reads rows [row, row + count) of a tensor seen as [rows, rowLength] (rowLength = last dim,
 * or the product of all dims after the first) as float32. `scratch` is reused when big enough.
 */
export class TensorReader {
  private fh: FileHandle | undefined;
  private file = '';
  private raw = Buffer.alloc(0);

  async readRows(t: CheckpointTensor, row: number, count: number, out: Float32Array): Promise<void> {
    const rowLength = t.shape.slice(1).reduce((a, b) => a * b, 1);
    if (out.length !== count * rowLength) throw new Error(`readRows: output holds ${out.length}, need ${count * rowLength}`);
    decodeToF32(t.dtype, await this.readRawRows(t, row, count), out);
  }

  /**
   * The rows' bytes as stored: in `into` when given (it must hold them), else in a view of the
   * reader's own buffer that is valid until the next read.
   */
  async readRawRows(t: CheckpointTensor, row: number, count: number, into?: Uint8Array): Promise<Uint8Array> {
    const rowLength = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const eb = DTYPE_BYTES[t.dtype];
    const bytes = count * rowLength * eb;
    if (this.file !== t.file) {
      await this.close();
      this.fh = await open(t.file, 'r');
      this.file = t.file;
    }
    // allocUnsafeSlow: an own ArrayBuffer at offset 0, so F16 data can be viewed as Uint16Array.
    if (!into && this.raw.length < bytes) this.raw = Buffer.allocUnsafeSlow(bytes);
    const buf = into ?? this.raw;
    if (buf.length < bytes) throw new RangeError(`readRawRows: buffer holds ${buf.length} bytes, need ${bytes}`);
    let done = 0;
    const start = t.offset + row * rowLength * eb;
    while (done < bytes) {
      const { bytesRead } = await (this.fh as FileHandle).read(buf, done, bytes - done, start + done);
      if (bytesRead === 0) throw new CheckpointError(`${basename(t.file)} ended while reading ${t.name}`, 'BAD_FILE');
      done += bytesRead;
    }
    return buf.subarray(0, bytes);
  }

  /** Whole tensor as float32 (for small tensors and tests). */
  async readAll(t: CheckpointTensor): Promise<Float32Array> {
    const rows = t.shape[0] ?? 1;
    const out = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    if (t.shape.length === 0) {
      await this.readRows({ ...t, shape: [1] }, 0, 1, out);
      return out;
    }
    await this.readRows(t, 0, rows, out);
    return out;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    this.file = '';
    await fh?.close();
  }
}
