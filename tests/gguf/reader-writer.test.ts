import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType, GgufValueType, tensorByteSize } from '../../electron/gguf/ggml-types';
import { GgufFormatError, metaArray, metaNumber, metaString, readGgufFile } from '../../electron/gguf/gguf-reader';
import { GgufWriter, f16ToF32, kv, writeGgufFile } from '../../electron/gguf/gguf-writer';
import { getFixtures, type Fixtures } from '../helpers/fixtures';

let dir: string;
let fx: Fixtures;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-rw-'));
  fx = await getFixtures();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Raw little-endian GGUF bytes for hostile-header tests. */
class Raw {
  parts: Buffer[] = [];
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    this.u64(Buffer.byteLength(s));
    this.parts.push(Buffer.from(s));
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  head(nTensors: number | bigint, nKv: number | bigint, version = 3): this {
    return this.bytes(Buffer.from('GGUF')).u32(version).u64(nTensors).u64(nKv);
  }
  tensor(name: string, dims: number[], type: number, offset: number | bigint): this {
    this.str(name).u32(dims.length);
    for (const d of dims) this.u64(d);
    return this.u32(type).u64(offset);
  }
  build(padTo = 0): Buffer {
    const b = Buffer.concat(this.parts);
    return padTo > b.length ? Buffer.concat([b, Buffer.alloc(padTo - b.length)]) : b;
  }
}

async function reasonOf(bytes: Buffer, name = 'hostile.gguf'): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  try {
    await readGgufFile(p);
  } catch (err) {
    expect(err).toBeInstanceOf(GgufFormatError);
    return (err as GgufFormatError).reason;
  }
  throw new Error('expected a GgufFormatError');
}

describe('GGUF writer -> reader round trip', () => {
  it('keeps every metadata type, tensor shape, offset and byte', async () => {
    const path = join(dir, 'roundtrip.gguf');
    const f32 = new Float32Array([1.5, -2, 0.25, 3, 4, 5]);
    const raw = new Uint8Array(34).map((_, i) => i); // one Q8_0 block
    const metadata = [
      kv.str('general.architecture', 'test'),
      kv.str('unicode', 'héllo ▁wörld ✓'),
      kv.u8('u8', 255),
      kv.i8('i8', -128),
      kv.u16('u16', 65535),
      kv.i16('i16', -32768),
      kv.u32('u32', 4294967295),
      kv.i32('i32', -2147483648),
      kv.u64('u64.small', 12345),
      kv.u64('u64.big', 2n ** 63n + 5n),
      kv.i64('i64', -(2n ** 62n)),
      kv.f32('f32', 0.5),
      kv.f64('f64', Math.PI),
      kv.bool('t', true),
      kv.bool('f', false),
      kv.strs('strs', ['a', '', 'ünï']),
      kv.f32s('f32s', [1, 2.5]),
      kv.i32s('i32s', [-1, 7]),
      { key: 'empty', type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT8, items: [] } },
    ];
    await writeGgufFile(
      path,
      metadata,
      [
        { name: 'a', dims: [3, 2], type: GgmlType.F32, data: f32 },
        { name: 'b', dims: [3, 2], type: GgmlType.F16, data: f32 },
        { name: 'q', dims: [32], type: GgmlType.Q8_0, data: raw },
      ],
      { alignment: 64 },
    );
    expect(existsSync(`${path}.partial`)).toBe(false);
    const g = await readGgufFile(path);
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(64);
    expect(metaNumber(g, 'general.alignment')).toBe(64);
    const got = Object.fromEntries([...g.metadata.values()].map((k) => [k.key, k.value]));
    expect(got).toMatchObject({
      unicode: 'héllo ▁wörld ✓',
      u8: 255,
      i8: -128,
      u16: 65535,
      i16: -32768,
      u32: 4294967295,
      i32: -2147483648,
      'u64.small': 12345,
      'u64.big': 2n ** 63n + 5n,
      i64: -(2n ** 62n),
      f32: 0.5,
      f64: Math.PI,
      t: true,
      f: false,
    });
    expect(metaArray(g, 'strs')?.items).toEqual(['a', '', 'ünï']);
    expect(metaArray(g, 'f32s')?.items).toEqual([1, 2.5]);
    expect(metaArray(g, 'i32s')).toEqual({ itemType: GgufValueType.INT32, items: [-1, 7] });
    expect(metaArray(g, 'empty')?.items).toEqual([]);

    expect(g.tensors.map((t) => [t.name, t.dims, t.typeName, t.byteSize])).toEqual([
      ['a', [3, 2], 'F32', 24],
      ['b', [3, 2], 'F16', 12],
      ['q', [32], 'Q8_0', 34],
    ]);
    expect(g.dataOffset % 64).toBe(0);
    expect(g.tensors.map((t) => t.relativeOffset)).toEqual([0, 64, 128]);
    const bytes = await readFile(path);
    const a = g.tensorsByName.get('a')!;
    expect([...new Float32Array(bytes.buffer.slice(bytes.byteOffset + a.offset, bytes.byteOffset + a.offset + 24))]).toEqual([...f32]);
    const b = g.tensorsByName.get('b')!;
    const halves = [...Array(6).keys()].map((i) => f16ToF32(bytes.readUInt16LE(b.offset + i * 2)));
    expect(halves).toEqual([...f32]);
    const q = g.tensorsByName.get('q')!;
    expect([...bytes.subarray(q.offset, q.offset + 34)]).toEqual([...raw]);
    expect(bytes.length).toBe(q.offset + 34 + 30); // last tensor padded to 64
  });

  it('streams a tensor from many chunks and enforces order and sizes', async () => {
    const path = join(dir, 'stream.gguf');
    const w = await GgufWriter.create(path, [kv.str('general.architecture', 'test')], [
      { name: 'x', dims: [1000], type: GgmlType.F32 },
      { name: 'y', dims: [4], type: GgmlType.F32 },
    ]);
    expect(existsSync(`${path}.partial`)).toBe(true);
    await expect(w.writeTensor('y', new Uint8Array(16))).rejects.toThrow(/declared order/);
    function* chunks(): Generator<Uint8Array> {
      for (let i = 0; i < 10; i++) yield new Uint8Array(400).fill(i);
    }
    await w.writeTensor('x', chunks());
    await expect(w.finish()).rejects.toThrow(/tensor y was not written/);
    expect(existsSync(path)).toBe(false);
    await w.abort();
    expect(existsSync(`${path}.partial`)).toBe(false);
    expect(existsSync(path)).toBe(false);

    const w2 = await GgufWriter.create(path, [], [{ name: 'x', dims: [4], type: GgmlType.F32 }]);
    await expect(w2.writeTensor('x', new Uint8Array(20))).rejects.toThrow(/more than its 16 bytes/);
    await w2.abort();
    await expect(writeGgufFile(path, [], [{ name: 'x', dims: [4], type: GgmlType.F32, data: new Uint8Array(8) }])).rejects.toThrow(
      /got 8 of 16 bytes/,
    );
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it('rejects bad metadata values and shapes before writing', async () => {
    const p = join(dir, 'bad.gguf');
    await expect(writeGgufFile(p, [kv.u8('x', 256)], [])).rejects.toThrow(/not a valid UINT8/);
    await expect(writeGgufFile(p, [kv.u32('x', -1)], [])).rejects.toThrow(/not a valid UINT32/);
    await expect(writeGgufFile(p, [kv.str('a', 'x'), kv.str('a', 'y')], [])).rejects.toThrow(/duplicate metadata key/);
    await expect(writeGgufFile(p, [], [{ name: 'q', dims: [31], type: GgmlType.Q4_0, data: new Uint8Array(0) }])).rejects.toThrow(
      /block size 32/,
    );
    await expect(writeGgufFile(p, [], [{ name: 'n'.repeat(64), dims: [1], type: GgmlType.F32, data: new Float32Array(1) }])).rejects.toThrow(
      /too long/,
    );
    expect(existsSync(`${p}.partial`)).toBe(false);
  });

  it('computes sizes of quantized types', () => {
    expect(tensorByteSize(GgmlType.Q4_K, [5120, 13824])).toBe((5120 * 13824 * 144) / 256);
    expect(tensorByteSize(GgmlType.Q4_0, [4096, 32000])).toBe((4096 * 32000 * 18) / 32);
    expect(tensorByteSize(GgmlType.Q6_K, [256])).toBe(210);
    expect(tensorByteSize(GgmlType.IQ4_XS, [256])).toBe(136);
    expect(tensorByteSize(GgmlType.BF16, [3, 3])).toBe(18);
    expect(() => tensorByteSize(4, [32])).toThrow(/unknown tensor type 4/);
  });
});

describe('reading the generated fixtures', () => {
  it('parses the tiny model header and tokenizer', async () => {
    const g = await readGgufFile(fx.pair.model);
    expect(metaString(g, 'general.architecture')).toBe('llama');
    expect(metaNumber(g, 'llama.embedding_length')).toBe(64);
    const tokens = metaArray(g, 'tokenizer.ggml.tokens')!.items as string[];
    expect(tokens).toHaveLength(400);
    expect(new Set(tokens).size).toBe(400);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(tokens).toContain('<0xFF>');
    expect(tokens).toContain('▁the');
    expect(g.tensors).toHaveLength(1 + 2 * 9 + 2);
    for (const t of g.tensors) expect(t.offset % g.alignment).toBe(0);
    const last = g.tensors[g.tensors.length - 1]!;
    expect(g.fileBytes).toBe(last.offset + last.byteSize + ((32 - (last.byteSize % 32)) % 32));
  });

  it('parses the mmproj with its LLaVA tensors', async () => {
    const g = await readGgufFile(fx.pairF16.mmproj);
    expect(metaString(g, 'clip.projector_type')).toBe('mlp');
    expect(g.tensorsByName.get('mm.2.weight')?.dims).toEqual([64, 64]);
    expect(g.tensorsByName.get('mm.2.weight')?.typeName).toBe('F16');
    expect(g.tensorsByName.get('mm.2.bias')?.typeName).toBe('F32');
    expect(g.tensorsByName.get('v.patch_embd.weight')?.dims).toEqual([14, 14, 3, 32]);
    expect(g.tensorsByName.get('v.position_embd.weight')?.dims).toEqual([32, 5]);
  });

  it('reports each broken variant precisely', async () => {
    const reason = async (p: string): Promise<string> =>
      readGgufFile(p).then(
        () => 'ok',
        (e: GgufFormatError) => e.reason,
      );
    expect(await reason(fx.broken.empty)).toBe('file is empty');
    expect(await reason(fx.broken.badMagic)).toBe('not a GGUF file (bad magic)');
    expect(await reason(fx.broken.badVersion)).toBe('unsupported GGUF version 7');
    expect(await reason(fx.broken.truncatedModel)).toMatch(
      /^file is truncated: tensor blk\.1\.ffn_up\.weight ends at byte \d+ but the file has \d+ bytes$/,
    );
    expect(await reason(join(dir, 'does-not-exist.gguf'))).toBe('file not found');
    expect(await reason(dir)).toBe('is a directory, not a file');
  });
});

describe('hostile headers fail fast with a reason', () => {
  it('rejects a huge tensor count', async () => {
    const r = await reasonOf(new Raw().head(2n ** 62n, 0).build(64));
    expect(r).toMatch(/corrupt header: the tensor count is 4611686018427387904, which cannot fit/);
  });

  it('rejects a huge metadata count', async () => {
    expect(await reasonOf(new Raw().head(0, 2n ** 40n).build(64))).toMatch(/metadata count is 1099511627776/);
  });

  it('rejects a huge string length', async () => {
    const r = await reasonOf(new Raw().head(0, 1).u64(2n ** 60n).build(64));
    expect(r).toMatch(/corrupt header: metadata key 0 claims 1152921504606846976 bytes/);
  });

  it('rejects a huge array length', async () => {
    const r = await reasonOf(new Raw().head(0, 1).str('tokenizer.ggml.tokens').u32(GgufValueType.ARRAY).u32(GgufValueType.STRING).u64(2n ** 50n).build(64));
    expect(r).toMatch(/the length of array tokenizer\.ggml\.tokens is 1125899906842624, which cannot fit/);
  });

  it('rejects an array whose items run past the end', async () => {
    const r = await reasonOf(new Raw().head(0, 1).str('a').u32(GgufValueType.ARRAY).u32(GgufValueType.UINT32).u64(4).u32(1).build());
    expect(r).toMatch(/cannot fit/);
  });

  it('rejects a string that runs past the end', async () => {
    const r = await reasonOf(new Raw().head(0, 1).str('k').u32(GgufValueType.STRING).u64(1000).build(40));
    expect(r).toMatch(/^file is truncated: the header needs at least \d+ bytes \(reading the value of k\)/);
  });

  it('rejects unknown value types, nested arrays and duplicate keys', async () => {
    expect(await reasonOf(new Raw().head(0, 1).str('k').u32(13).build(64))).toMatch(/key k has unknown value type 13/);
    expect(await reasonOf(new Raw().head(0, 1).str('k').u32(GgufValueType.ARRAY).u32(GgufValueType.ARRAY).u64(0).build(64))).toMatch(
      /array of arrays/,
    );
    expect(
      await reasonOf(new Raw().head(0, 2).str('k').u32(GgufValueType.UINT32).u32(1).str('k').u32(GgufValueType.UINT32).u32(2).build(64)),
    ).toMatch(/duplicate metadata key k/);
  });

  it('rejects bad versions, including big-endian files', async () => {
    expect(await reasonOf(new Raw().head(0, 0, 1).build(64))).toMatch(/^unsupported GGUF version 1 /);
    expect(await reasonOf(new Raw().head(0, 0, 0x03000000).build(64))).toMatch(/big-endian/);
    expect(await reasonOf(Buffer.from('GG'))).toMatch(/truncated/);
    expect(await reasonOf(Buffer.from('<!DOCTYPE html>'))).toBe('not a GGUF file (bad magic)');
  });

  it('rejects an unknown tensor type', async () => {
    const r = await reasonOf(new Raw().head(1, 0).tensor('blk.0.attn_q.weight', [32], 99, 0).build(128));
    expect(r).toBe('unknown tensor type 99 for tensor blk.0.attn_q.weight');
  });

  it('rejects bad shapes', async () => {
    expect(await reasonOf(new Raw().head(1, 0).tensor('t', [1, 1, 1, 1, 1], GgmlType.F32, 0).build(128))).toMatch(/5 dimensions/);
    expect(await reasonOf(new Raw().head(1, 0).tensor('t', [2 ** 40, 2 ** 40], GgmlType.F32, 0).build(128))).toMatch(/impossible shape/);
    expect(await reasonOf(new Raw().head(1, 0).tensor('t', [33], GgmlType.Q4_0, 0).build(128))).toMatch(/not a multiple of the Q4_0 block size 32/);
    expect(await reasonOf(new Raw().head(1, 0).tensor('x'.repeat(70), [1], GgmlType.F32, 0).build(256))).toMatch(/tensor name is too long/);
  });

  it('rejects misaligned, overlapping, gapped and out-of-file tensors', async () => {
    const two = (offB: number): Buffer =>
      new Raw().head(2, 0).tensor('a', [16], GgmlType.F32, 0).tensor('b', [16], GgmlType.F32, offB).build(512);
    expect(await reasonOf(two(8))).toMatch(/tensor b data offset 8 is not aligned to 32 bytes/);
    expect(await reasonOf(two(32))).toMatch(/tensors a and b overlap/);
    expect(await reasonOf(two(96))).toMatch(/tensor b starts at data offset 96 but llama.cpp expects 64/);
    const r = await reasonOf(new Raw().head(1, 0).tensor('big', [1024], GgmlType.F32, 0).build(200));
    expect(r).toMatch(/^file is truncated: tensor big ends at byte \d+ but the file has 200 bytes$/);
  });

  it('rejects a bad general.alignment', async () => {
    const r = await reasonOf(new Raw().head(0, 1).str('general.alignment').u32(GgufValueType.UINT32).u32(48).build(64));
    expect(r).toMatch(/general.alignment must be a power-of-two uint32, got 48/);
  });

  it('reads a header larger than one read chunk', async () => {
    const tokens = Array.from({ length: 40000 }, (_, i) => `tok-${i}-${'x'.repeat(i % 50)}`);
    const p = join(dir, 'bigheader.gguf');
    await writeGgufFile(p, [kv.strs('tokenizer.ggml.tokens', tokens), kv.f32s('scores', tokens.map((_, i) => -i))], []);
    const t0 = performance.now();
    const g = await readGgufFile(p);
    const ms = performance.now() - t0;
    expect(metaArray(g, 'tokenizer.ggml.tokens')?.items).toEqual(tokens);
    expect(metaArray(g, 'scores')?.items[39999]).toBe(-39999);
    expect(ms).toBeLessThan(1000);
  });
});
