// Streaming GGUF v3 writer: the header is written first (all tensor shapes must be known up
// front, as in llama.cpp's own writer), then tensor data is streamed one tensor at a time, so
// converting a 26 GB checkpoint never holds more than one chunk in memory.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { GGML_MAX_DIMS, GGML_MAX_NAME, GgmlType, GgufValueType, ggmlTypeName, ggufValueTypeName, tensorByteSize } from './ggml-types';
import { GGUF_DEFAULT_ALIGNMENT, alignUp, type GgufArray, type GgufKv, type GgufValue } from './gguf-reader';

// ---------------------------------------------------------------------------------------------
// float16

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of a float32 (given as a JS number) rounded to float16 with round-to-nearest-even. */
export function f32ToF16(value: number): number {
  f32[0] = value;
  return f32BitsToF16(u32[0] as number);
}

function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // inf / quiet NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000;
    const shift = 14 - e;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r; // a carry into bit 10 yields the smallest normal, which is correct
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++; // a carry may round up to inf, also correct
  return sign | r;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Converts a whole Float32Array; `out` may be given to avoid an allocation. */
export function f32ArrayToF16(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = out ?? new Uint16Array(src.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16(bits[i] as number);
  return dst;
}

// ---------------------------------------------------------------------------------------------
// metadata builders

export const kv = {
  str: (key: string, value: string): GgufKv => ({ key, type: GgufValueType.STRING, value }),
  u8: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT8, value }),
  i8: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT8, value }),
  u16: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT16, value }),
  i16: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT16, value }),
  u32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT32, value }),
  i32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT32, value }),
  u64: (key: string, value: number | bigint): GgufKv => ({ key, type: GgufValueType.UINT64, value }),
  i64: (key: string, value: number | bigint): GgufKv => ({ key, type: GgufValueType.INT64, value }),
  f32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.FLOAT32, value }),
  f64: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.FLOAT64, value }),
  bool: (key: string, value: boolean): GgufKv => ({ key, type: GgufValueType.BOOL, value }),
  strs: (key: string, items: string[]): GgufKv => arr(key, GgufValueType.STRING, items),
  f32s: (key: string, items: number[]): GgufKv => arr(key, GgufValueType.FLOAT32, items),
  i32s: (key: string, items: number[]): GgufKv => arr(key, GgufValueType.INT32, items),
  u32s: (key: string, items: number[]): GgufKv => arr(key, GgufValueType.UINT32, items),
};

function arr(key: string, itemType: GgufArray['itemType'], items: GgufValue[]): GgufKv {
  return { key, type: GgufValueType.ARRAY, value: { itemType, items } };
}

// ---------------------------------------------------------------------------------------------
// header encoding

class Bytes {
  private buf = Buffer.alloc(64 * 1024);
  length = 0;

  /** Reserves n bytes and returns the (possibly reallocated) buffer and offset to fill. */
  private take(n: number): [Buffer, number] {
    if (this.length + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return [this.buf, at];
  }
  u32(v: number): void {
    const [b, at] = this.take(4);
    b.writeUInt32LE(v, at);
  }
  u64(v: number | bigint): void {
    const [b, at] = this.take(8);
    b.writeBigUInt64LE(BigInt(v), at);
  }
  str(s: string): void {
    const n = Buffer.byteLength(s);
    this.u64(n);
    const [b, at] = this.take(n);
    b.write(s, at, 'utf8');
  }
  zeros(n: number): void {
    const [b, at] = this.take(n);
    b.fill(0, at, at + n);
  }
  scalar(type: number, v: GgufValue, key: string): void {
    const bad = (): never => {
      throw new TypeError(`metadata ${key}: ${String(v)} is not a valid ${ggufValueTypeName(type)}`);
    };
    const int = (min: number, max: number): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad();
      return v as number;
    };
    const num = (): number => (typeof v === 'number' ? v : bad());
    const big = (min: bigint, max: bigint): bigint => {
      if (typeof v !== 'bigint' && (typeof v !== 'number' || !Number.isInteger(v))) bad();
      const b = BigInt(v as number | bigint);
      return b < min || b > max ? bad() : b;
    };
    switch (type) {
      case GgufValueType.UINT8: { const x = int(0, 0xff); const [b, at] = this.take(1); b.writeUInt8(x, at); break; }
      case GgufValueType.INT8: { const x = int(-0x80, 0x7f); const [b, at] = this.take(1); b.writeInt8(x, at); break; }
      case GgufValueType.UINT16: { const x = int(0, 0xffff); const [b, at] = this.take(2); b.writeUInt16LE(x, at); break; }
      case GgufValueType.INT16: { const x = int(-0x8000, 0x7fff); const [b, at] = this.take(2); b.writeInt16LE(x, at); break; }
      case GgufValueType.UINT32: { const x = int(0, 0xffffffff); const [b, at] = this.take(4); b.writeUInt32LE(x, at); break; }
      case GgufValueType.INT32: { const x = int(-0x80000000, 0x7fffffff); const [b, at] = this.take(4); b.writeInt32LE(x, at); break; }
      case GgufValueType.FLOAT32: { const x = num(); const [b, at] = this.take(4); b.writeFloatLE(x, at); break; }
      case GgufValueType.FLOAT64: { const x = num(); const [b, at] = this.take(8); b.writeDoubleLE(x, at); break; }
      case GgufValueType.BOOL: { if (typeof v !== 'boolean') bad(); const [b, at] = this.take(1); b.writeUInt8(v ? 1 : 0, at); break; }
      case GgufValueType.UINT64: { const x = big(0n, 2n ** 64n - 1n); const [b, at] = this.take(8); b.writeBigUInt64LE(x, at); break; }
      case GgufValueType.INT64: { const x = big(-(2n ** 63n), 2n ** 63n - 1n); const [b, at] = this.take(8); b.writeBigInt64LE(x, at); break; }
      case GgufValueType.STRING: { if (typeof v !== 'string') bad(); this.str(v as string); break; }
      default: bad();
    }
  }
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function encodeKv(out: Bytes, { key, type, value }: GgufKv): void {
  out.str(key);
  out.u32(type);
  if (type !== GgufValueType.ARRAY) {
    out.scalar(type, value, key);
    return;
  }
  if (typeof value !== 'object' || value === null || typeof value === 'bigint' || !Array.isArray(value.items)) {
    throw new TypeError(`metadata ${key}: ARRAY needs { itemType, items }`);
  }
  if (value.itemType === GgufValueType.ARRAY) throw new TypeError(`metadata ${key}: llama.cpp cannot read nested arrays`);
  out.u32(value.itemType);
  out.u64(value.items.length);
  for (const item of value.items) out.scalar(value.itemType, item, key);
}

// ---------------------------------------------------------------------------------------------
// writer

export interface GgufTensorSpec {
  name: string;
  /** GGUF order: dims[0] is the innermost (row) dimension. */
  dims: number[];
  type: number;
}

interface PlannedTensor extends GgufTensorSpec {
  byteSize: number;
  relativeOffset: number;
}

export interface GgufWriterOptions {
  alignment?: number;
  /** fsync before the rename (default true). */
  sync?: boolean;
}

const STAGE_BYTES = 4 * 1024 * 1024;

export class GgufWriter {
  private readonly stage = Buffer.alloc(STAGE_BYTES);
  private staged = 0;
  private next = 0;
  private current: { t: PlannedTensor; written: number } | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    readonly partialPath: string,
    private readonly fh: FileHandle,
    private readonly tensors: PlannedTensor[],
    private readonly alignment: number,
    private readonly sync: boolean,
    private pos: number,
  ) {}

  /** Opens `<path>.partial` and writes the header. */
  static async create(path: string, metadata: GgufKv[], tensors: GgufTensorSpec[], options: GgufWriterOptions = {}): Promise<GgufWriter> {
    const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
      throw new RangeError(`alignment ${alignment} is not a power of two`);
    }
    const kvs = [...metadata];
    const keys = new Set<string>();
    for (const k of kvs) {
      if (keys.has(k.key)) throw new TypeError(`duplicate metadata key ${k.key}`);
      keys.add(k.key);
    }
    const alignKv = kvs.find((k) => k.key === 'general.alignment');
    if (alignKv && (alignKv.type !== GgufValueType.UINT32 || alignKv.value !== alignment)) {
      throw new TypeError('general.alignment must be a uint32 equal to options.alignment');
    }
    if (!alignKv && alignment !== GGUF_DEFAULT_ALIGNMENT) kvs.push(kv.u32('general.alignment', alignment));

    const names = new Set<string>();
    const planned: PlannedTensor[] = [];
    let rel = 0;
    for (const t of tensors) {
      if (names.has(t.name)) throw new TypeError(`duplicate tensor ${t.name}`);
      names.add(t.name);
      if (Buffer.byteLength(t.name) >= GGML_MAX_NAME) throw new TypeError(`tensor name too long: ${t.name}`);
      if (t.dims.length < 1 || t.dims.length > GGML_MAX_DIMS) throw new TypeError(`tensor ${t.name} must have 1..4 dims`);
      const byteSize = tensorByteSize(t.type, t.dims);
      planned.push({ name: t.name, dims: [...t.dims], type: t.type, byteSize, relativeOffset: rel });
      rel = alignUp(rel + byteSize, alignment);
    }

    const h = new Bytes();
    h.u32(0x46554747); // "GGUF" little-endian
    h.u32(3);
    h.u64(planned.length);
    h.u64(kvs.length);
    for (const k of kvs) encodeKv(h, k);
    for (const t of planned) {
      h.str(t.name);
      h.u32(t.dims.length);
      for (const d of t.dims) h.u64(d);
      h.u32(t.type);
      h.u64(t.relativeOffset);
    }
    h.zeros(alignUp(h.length, alignment) - h.length);

    const partialPath = `${path}.partial`;
    const fh = await open(partialPath, 'w');
    const w = new GgufWriter(path, partialPath, fh, planned, alignment, options.sync ?? true, 0);
    try {
      await w.writeRaw(h.view());
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w;
  }

  /** The tensor whose data must come next, if any. */
  get nextTensor(): GgufTensorSpec | undefined {
    return this.current?.t ?? this.tensors[this.next];
  }

  /** Streams one tensor's raw bytes (already in the tensor's type); chunks may be any size. */
  async writeTensor(name: string, data: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
    this.begin(name);
    if (data instanceof Uint8Array) await this.push(data);
    else for await (const chunk of data) await this.push(chunk);
    await this.end();
  }

  /** Writes float values converted to the tensor's type (F32 or F16 only). */
  async writeTensorFloats(name: string, values: Float32Array): Promise<void> {
    const t = this.tensors[this.next];
    if (!t || t.name !== name) throw new Error(`expected tensor ${t?.name ?? '(none)'}, got ${name}`);
    if (t.type === GgmlType.F32) {
      await this.writeTensor(name, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    } else if (t.type === GgmlType.F16) {
      const h = f32ArrayToF16(values);
      await this.writeTensor(name, new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
    } else {
      throw new Error(`tensor ${name} is ${ggmlTypeName(t.type)}; only F32 and F16 can be written from floats`);
    }
  }

  private begin(name: string): void {
    if (this.closed) throw new Error('writer is closed');
    if (this.current) throw new Error(`tensor ${this.current.t.name} is not finished`);
    const t = this.tensors[this.next];
    if (!t) throw new Error(`no more tensors were declared, got ${name}`);
    if (t.name !== name) throw new Error(`tensors must be written in declared order: expected ${t.name}, got ${name}`);
    this.current = { t, written: 0 };
  }

  private async push(chunk: Uint8Array): Promise<void> {
    const cur = this.current as { t: PlannedTensor; written: number };
    if (cur.written + chunk.byteLength > cur.t.byteSize) {
      throw new Error(`tensor ${cur.t.name}: got more than its ${cur.t.byteSize} bytes`);
    }
    cur.written += chunk.byteLength;
    await this.writeRaw(chunk);
  }

  private async end(): Promise<void> {
    const cur = this.current as { t: PlannedTensor; written: number };
    if (cur.written !== cur.t.byteSize) {
      throw new Error(`tensor ${cur.t.name}: got ${cur.written} of ${cur.t.byteSize} bytes`);
    }
    const pad = alignUp(cur.t.byteSize, this.alignment) - cur.t.byteSize;
    if (pad > 0) await this.writeRaw(new Uint8Array(pad));
    this.current = undefined;
    this.next++;
  }

  private async writeRaw(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength >= STAGE_BYTES / 4) {
      // Big chunks go straight to disk; copying them would only cost time.
      await this.flush();
      await this.writeFully(chunk);
      return;
    }
    if (this.staged + chunk.byteLength > STAGE_BYTES) await this.flush();
    this.stage.set(chunk, this.staged);
    this.staged += chunk.byteLength;
  }

  private async flush(): Promise<void> {
    if (this.staged === 0) return;
    const n = this.staged;
    this.staged = 0;
    await this.writeFully(this.stage.subarray(0, n));
  }

  private async writeFully(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.byteLength) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.byteLength - off, this.pos);
      off += bytesWritten;
      this.pos += bytesWritten;
    }
  }

  /** Checks every tensor was written, then renames `<path>.partial` to `<path>`. */
  async finish(): Promise<void> {
    if (this.closed) throw new Error('writer is closed');
    if (this.current || this.next < this.tensors.length) {
      const missing = this.current?.t.name ?? this.tensors[this.next]?.name;
      throw new Error(`cannot finish: tensor ${missing} was not written`);
    }
    await this.flush();
    if (this.sync) await this.fh.sync();
    this.closed = true;
    await this.fh.close();
    await rename(this.partialPath, this.path);
  }

  /** Closes and deletes the partial file; safe to call more than once. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await rm(this.partialPath, { force: true });
  }
}

export interface GgufTensorData extends GgufTensorSpec {
  data: Uint8Array | Float32Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** One-shot helper: writes a whole file, deleting the partial file on any error. */
export async function writeGgufFile(path: string, metadata: GgufKv[], tensors: GgufTensorData[], options?: GgufWriterOptions): Promise<void> {
  const w = await GgufWriter.create(path, metadata, tensors, options);
  try {
    for (const t of tensors) {
      if (t.data instanceof Float32Array) await w.writeTensorFloats(t.name, t.data);
      else await w.writeTensor(t.name, t.data);
    }
    await w.finish();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
