// Reads a GGUF header (metadata and tensor table) without touching tensor data, and checks
// everything llama.cpp's loader would trip over: a file that passes here should not make
// llama.cpp fail to open it for format reasons (it still may for model-specific reasons).
import { open, type FileHandle } from 'node:fs/promises';
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GgufValueType,
  elementCount,
  ggmlTypeInfo,
  ggufScalarSize,
  ggufValueTypeName,
  isGgufValueType,
  type GgufValueTypeId,
} from './ggml-types';

export const GGUF_MAGIC = 'GGUF';
export const GGUF_DEFAULT_ALIGNMENT = 32;

export interface GgufArray {
  itemType: GgufValueTypeId;
  items: GgufValue[];
}

/** 64-bit integers are numbers when they fit in 2^53, bigints otherwise. */
export type GgufValue = number | bigint | boolean | string | GgufArray;

export interface GgufKv {
  key: string;
  type: GgufValueTypeId;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: dims[0] is the innermost (row) dimension. */
  dims: number[];
  type: number;
  typeName: string;
  elements: number;
  byteSize: number;
  /** Offset from the start of the data section, as stored in the file. */
  relativeOffset: number;
  /** Absolute offset of the first data byte in the file. */
  offset: number;
}

export interface GgufFile {
  path: string;
  fileBytes: number;
  version: number;
  alignment: number;
  /** Absolute offset of the data section (end of header, padded to the alignment). */
  dataOffset: number;
  metadata: Map<string, GgufKv>;
  tensors: GgufTensorInfo[];
  tensorsByName: Map<string, GgufTensorInfo>;
}

export class GgufFormatError extends Error {
  /** Short human reason, also the message; callers prefix the file name. */
  readonly reason: string;
  constructor(
    reason: string,
    readonly path?: string,
    /** Extra facts for logs (byte offsets, raw values). */
    readonly detail?: string,
  ) {
    super(reason);
    this.name = 'GgufFormatError';
    this.reason = reason;
  }
}

// Sanity limits: real files are far below them, hostile ones fail fast instead of exhausting memory.
const MAX_STRING_BYTES = 64 * 1024 * 1024;
const MAX_KEY_BYTES = 64 * 1024;
const MAX_ARRAY_ITEMS = 1 << 24;
const MAX_KV = 1 << 20;
const MAX_TENSORS = 1 << 20;
const CHUNK = 1 << 20;

/** Buffered forward reader over a file handle; refills by positional reads. */
class Cursor {
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly path: string,
  ) {}

  /** Bytes available in the buffer from pos. */
  avail(): number {
    return this.bufStart + this.buf.length - this.pos;
  }

  async need(n: number, what: string): Promise<void> {
    if (this.avail() >= n) return;
    if (this.pos + n > this.size) {
      throw new GgufFormatError(
        `file is truncated: the header needs at least ${this.pos + n} bytes (reading ${what}) but the file has ${this.size} bytes`,
        this.path,
      );
    }
    const len = Math.min(Math.max(n, CHUNK), this.size - this.pos);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.fh.read(buf, got, len - got, this.pos + got);
      if (bytesRead === 0) {
        throw new GgufFormatError(`file is truncated: it ended at byte ${this.pos + got} while reading ${what}`, this.path);
      }
      got += bytesRead;
    }
    this.buf = buf;
    this.bufStart = this.pos;
  }

  private at(): number {
    return this.pos - this.bufStart;
  }

  u8(): number {
    const v = this.buf.readUInt8(this.at());
    this.pos += 1;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.at());
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64LE(this.at());
    this.pos += 8;
    return v;
  }
  scalar(type: number): number | bigint | boolean {
    const o = this.at();
    const b = this.buf;
    let v: number | bigint | boolean;
    switch (type) {
      case GgufValueType.UINT8: v = b.readUInt8(o); break;
      case GgufValueType.INT8: v = b.readInt8(o); break;
      case GgufValueType.UINT16: v = b.readUInt16LE(o); break;
      case GgufValueType.INT16: v = b.readInt16LE(o); break;
      case GgufValueType.UINT32: v = b.readUInt32LE(o); break;
      case GgufValueType.INT32: v = b.readInt32LE(o); break;
      case GgufValueType.FLOAT32: v = b.readFloatLE(o); break;
      case GgufValueType.BOOL: v = b.readUInt8(o) !== 0; break;
      case GgufValueType.UINT64: v = small(b.readBigUInt64LE(o)); break;
      case GgufValueType.INT64: v = small(b.readBigInt64LE(o)); break;
      case GgufValueType.FLOAT64: v = b.readDoubleLE(o); break;
      default: throw new Error(`not a scalar type ${type}`);
    }
    this.pos += ggufScalarSize(type) as number;
    return v;
  }
  /** Caller has made `len` bytes available. */
  text(len: number): string {
    const o = this.at();
    const s = this.buf.toString('utf8', o, o + len);
    this.pos += len;
    return s;
  }
  /** Reads a length-prefixed string only if it is fully buffered (fast path for big arrays). */
  tryString(limit: number): string | undefined {
    if (this.avail() < 8) return undefined;
    const o = this.at();
    const len = this.buf.readBigUInt64LE(o);
    if (len > BigInt(limit) || this.avail() < 8 + Number(len)) return undefined;
    const n = Number(len);
    const s = this.buf.toString('utf8', o + 8, o + 8 + n);
    this.pos += 8 + n;
    return s;
  }
}

function small(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

async function readCount(c: Cursor, what: string, max: number, minEach: number, path: string): Promise<number> {
  await c.need(8, what);
  const at = c.pos;
  const raw = c.u64();
  const remaining = c.size - c.pos;
  if (raw > BigInt(max) || Number(raw) * minEach > remaining) {
    throw new GgufFormatError(
      `corrupt header: ${what} is ${raw}, which cannot fit in a file of ${c.size} bytes`,
      path,
      `count at byte ${at}`,
    );
  }
  return Number(raw);
}

async function readString(c: Cursor, what: string, limit: number, path: string): Promise<string> {
  await c.need(8, what);
  const at = c.pos;
  const len = c.u64();
  if (len > BigInt(limit)) {
    throw new GgufFormatError(`corrupt header: ${what} claims ${len} bytes (limit ${limit})`, path, `string at byte ${at}`);
  }
  const n = Number(len);
  await c.need(n, what);
  return c.text(n);
}

async function readArray(c: Cursor, key: string, path: string): Promise<GgufArray> {
  await c.need(4, `the item type of ${key}`);
  const itemType = c.u32();
  if (!isGgufValueType(itemType)) {
    throw new GgufFormatError(`corrupt header: metadata key ${key} is an array of unknown value type ${itemType}`, path);
  }
  if (itemType === GgufValueType.ARRAY) {
    // gguf.cpp rejects nested arrays, so llama.cpp could not open such a file.
    throw new GgufFormatError(`unsupported metadata: key ${key} is an array of arrays`, path);
  }
  const itemSize = ggufScalarSize(itemType) ?? 8;
  const n = await readCount(c, `the length of array ${key}`, MAX_ARRAY_ITEMS, itemSize, path);
  const items: GgufValue[] = new Array<GgufValue>(n);
  if (itemType === GgufValueType.STRING) {
    for (let i = 0; i < n; i++) {
      items[i] = c.tryString(MAX_STRING_BYTES) ?? (await readString(c, `item ${i} of ${key}`, MAX_STRING_BYTES, path));
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (c.avail() < itemSize) await c.need(Math.min(itemSize * (n - i), CHUNK), `item ${i} of ${key}`);
      items[i] = c.scalar(itemType);
    }
  }
  return { itemType, items };
}

function versionError(version: number): string {
  // A big-endian file read as little-endian shows a version like 0x03000000.
  if (version === 1) return 'unsupported GGUF version 1 (too old; convert the model again with current llama.cpp)';
  if (version >= 0x01000000 && (version & 0x00ffffff) === 0) {
    return `unsupported GGUF version ${version} (this looks like a big-endian file)`;
  }
  return `unsupported GGUF version ${version}`;
}

/**
 * Parses and checks the header of a GGUF file. Reads only the header bytes, so it is fast on
 * multi-gigabyte models. Every problem is reported as a GgufFormatError.
 */
export async function readGgufFile(path: string): Promise<GgufFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot open file (${code ?? String(err)})`;
    throw new GgufFormatError(reason, path);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new GgufFormatError('is a directory, not a file', path);
    return await parse(fh, st.size, path);
  } catch (err) {
    if (err instanceof GgufFormatError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new GgufFormatError('is a directory, not a file', path);
    throw new GgufFormatError(`cannot read file (${code ?? (err instanceof Error ? err.message : String(err))})`, path);
  } finally {
    await fh.close();
  }
}

async function parse(fh: FileHandle, size: number, path: string): Promise<GgufFile> {
  if (size === 0) throw new GgufFormatError('file is empty', path);
  const c = new Cursor(fh, size, path);
  const head = Math.min(size, 4);
  await c.need(head, 'the magic');
  const magic = c.text(head);
  if (magic !== GGUF_MAGIC) {
    if (size < 4 && GGUF_MAGIC.startsWith(magic)) {
      throw new GgufFormatError(`file is truncated: only ${size} bytes`, path);
    }
    throw new GgufFormatError('not a GGUF file (bad magic)', path, `first bytes: ${Buffer.from(magic, 'latin1').toString('hex')}`);
  }
  await c.need(4, 'the version');
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new GgufFormatError(versionError(version), path);

  const nTensors = await readCount(c, 'the tensor count', MAX_TENSORS, 8 + 4 + 4 + 8, path);
  const nKv = await readCount(c, 'the metadata count', MAX_KV, 8 + 4 + 1, path);

  const metadata = new Map<string, GgufKv>();
  for (let i = 0; i < nKv; i++) {
    const key = await readString(c, `metadata key ${i}`, MAX_KEY_BYTES, path);
    if (metadata.has(key)) throw new GgufFormatError(`corrupt header: duplicate metadata key ${key}`, path);
    await c.need(4, `the type of ${key}`);
    const type = c.u32();
    if (!isGgufValueType(type)) {
      throw new GgufFormatError(`corrupt header: metadata key ${key} has unknown value type ${type}`, path);
    }
    let value: GgufValue;
    if (type === GgufValueType.STRING) value = await readString(c, `the value of ${key}`, MAX_STRING_BYTES, path);
    else if (type === GgufValueType.ARRAY) value = await readArray(c, key, path);
    else {
      await c.need(ggufScalarSize(type) as number, `the value of ${key}`);
      value = c.scalar(type);
    }
    metadata.set(key, { key, type, value });
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignKv = metadata.get('general.alignment');
  if (alignKv) {
    const a = alignKv.value;
    if (alignKv.type !== GgufValueType.UINT32 || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) {
      throw new GgufFormatError(
        `corrupt header: general.alignment must be a power-of-two uint32, got ${String(a)} (${ggufValueTypeName(alignKv.type)})`,
        path,
      );
    }
    alignment = a;
  }

  const tensors: GgufTensorInfo[] = [];
  const tensorsByName = new Map<string, GgufTensorInfo>();
  for (let i = 0; i < nTensors; i++) {
    const name = await readString(c, `the name of tensor ${i}`, MAX_KEY_BYTES, path);
    if (Buffer.byteLength(name) >= GGML_MAX_NAME) {
      throw new GgufFormatError(`tensor name is too long (${Buffer.byteLength(name)} bytes, llama.cpp allows ${GGML_MAX_NAME - 1}): ${name.slice(0, 80)}`, path);
    }
    if (tensorsByName.has(name)) throw new GgufFormatError(`corrupt header: duplicate tensor ${name}`, path);
    await c.need(4, `the dimension count of tensor ${name}`);
    const nDims = c.u32();
    if (nDims > GGML_MAX_DIMS) {
      throw new GgufFormatError(`corrupt header: tensor ${name} has ${nDims} dimensions (at most ${GGML_MAX_DIMS})`, path);
    }
    await c.need(8 * nDims + 4 + 8, `the shape of tensor ${name}`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = c.u64();
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new GgufFormatError(`corrupt header: tensor ${name} has dimension ${v}`, path);
      }
      dims.push(Number(v));
    }
    const type = c.u32();
    const rel = c.u64();
    const info = ggmlTypeInfo(type);
    if (!info) throw new GgufFormatError(`unknown tensor type ${type} for tensor ${name}`, path);
    let elements: number;
    try {
      elements = elementCount(dims);
    } catch {
      throw new GgufFormatError(`corrupt header: tensor ${name} has an impossible shape [${dims.join(', ')}]`, path);
    }
    const first = dims[0] ?? 1;
    if (first % info.blockSize !== 0) {
      throw new GgufFormatError(
        `corrupt header: tensor ${name} has ${first} columns, not a multiple of the ${info.name} block size ${info.blockSize}`,
        path,
      );
    }
    const byteSize = (elements / info.blockSize) * info.bytesPerBlock;
    if (!Number.isSafeInteger(byteSize)) {
      throw new GgufFormatError(`corrupt header: tensor ${name} has an impossible shape [${dims.join(', ')}]`, path);
    }
    if (rel > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufFormatError(`corrupt header: tensor ${name} has data offset ${rel}`, path);
    }
    const t: GgufTensorInfo = {
      name,
      dims,
      type,
      typeName: info.name,
      elements,
      byteSize,
      relativeOffset: Number(rel),
      offset: 0,
    };
    tensors.push(t);
    tensorsByName.set(name, t);
  }

  const dataOffset = alignUp(c.pos, alignment);
  checkTensorLayout(tensors, dataOffset, alignment, size, path);
  return { path, fileBytes: size, version, alignment, dataOffset, metadata, tensors, tensorsByName };
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function checkTensorLayout(tensors: GgufTensorInfo[], dataOffset: number, alignment: number, size: number, path: string): void {
  // llama.cpp (gguf.cpp) requires tensors back to back, each padded to the alignment, in header order.
  let expected = 0;
  let prev: GgufTensorInfo | undefined;
  for (const t of tensors) {
    t.offset = dataOffset + t.relativeOffset;
    if (t.relativeOffset % alignment !== 0) {
      throw new GgufFormatError(`corrupt header: tensor ${t.name} data offset ${t.relativeOffset} is not aligned to ${alignment} bytes`, path);
    }
    if (t.relativeOffset < expected && prev) {
      throw new GgufFormatError(`corrupt header: tensors ${prev.name} and ${t.name} overlap`, path);
    }
    if (t.relativeOffset !== expected) {
      throw new GgufFormatError(
        `corrupt header: tensor ${t.name} starts at data offset ${t.relativeOffset} but llama.cpp expects ${expected} (tensors must be stored back to back)`,
        path,
      );
    }
    const end = t.offset + t.byteSize;
    if (end > size) {
      throw new GgufFormatError(`file is truncated: tensor ${t.name} ends at byte ${end} but the file has ${size} bytes`, path);
    }
    expected = alignUp(t.relativeOffset + t.byteSize, alignment);
    prev = t;
  }
}

// Typed accessors. Numbers accept any numeric GGUF type, since converters differ (u32 vs i32).

export function metaValue(file: GgufFile, key: string): GgufValue | undefined {
  return file.metadata.get(key)?.value;
}

export function metaString(file: GgufFile, key: string): string | undefined {
  const v = metaValue(file, key);
  return typeof v === 'string' ? v : undefined;
}

export function metaNumber(file: GgufFile, key: string): number | undefined {
  const v = metaValue(file, key);
  return typeof v === 'number' ? v : undefined;
}

export function metaBool(file: GgufFile, key: string): boolean | undefined {
  const v = metaValue(file, key);
  return typeof v === 'boolean' ? v : undefined;
}

export function metaArray(file: GgufFile, key: string): GgufArray | undefined {
  const v = metaValue(file, key);
  return typeof v === 'object' && v !== null && typeof v !== 'bigint' ? v : undefined;
}
