import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../electron/cli/commands/fixtures';
import { encodePng, gradientPixels, PNG_SIGNATURE } from '../../electron/fixtures/png';
import { buildSpmVocab, writeLlavaPair, FIRELLAVA_13B_TEXT, FIRELLAVA_VISION } from '../../electron/fixtures/tiny-llava';
import { validateModelPair } from '../../electron/engine/model-validator';
import { readGgufFile } from '../../electron/gguf/gguf-reader';
import { getFixtures } from '../helpers/fixtures';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fixtures-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

describe('tiny LLaVA generator', () => {
  it('is deterministic and seed-dependent', async () => {
    const a = await writeLlavaPair(join(dir, 'a'), { tensorType: 'f16' });
    const b = await writeLlavaPair(join(dir, 'b'), { tensorType: 'f16' });
    const c = await writeLlavaPair(join(dir, 'c'), { tensorType: 'f16', seed: 2 });
    expect(await sha(a.model)).toBe(await sha(b.model));
    expect(await sha(a.mmproj)).toBe(await sha(b.mmproj));
    expect(await sha(a.model)).not.toBe(await sha(c.model));
    const fx = await getFixtures();
    expect(await sha(a.model)).toBe(await sha(fx.pairF16.model));
  });

  it('writes only finite, small weights', async () => {
    const fx = await getFixtures();
    for (const path of [fx.pair.model, fx.pair.mmproj]) {
      const g = await readGgufFile(path);
      const bytes = await readFile(path);
      for (const t of g.tensors) {
        const v = new Float32Array(bytes.buffer.slice(bytes.byteOffset + t.offset, bytes.byteOffset + t.offset + t.byteSize));
        const max = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        expect(v.every(Number.isFinite), t.name).toBe(true);
        expect(max, t.name).toBeLessThan(1.2);
      }
    }
  });

  it('builds a SentencePiece vocabulary llama.cpp accepts', () => {
    for (const size of [262, 400, 32000]) {
      const v = buildSpmVocab(size);
      expect(v.tokens).toHaveLength(size);
      expect(new Set(v.tokens).size).toBe(size);
      expect(v.types.filter((t) => t === 6)).toHaveLength(256);
      expect(v.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    }
    const v = buildSpmVocab(400);
    for (const p of ['▁the', '▁USER', 'USER', ':', '▁ASSISTANT', '<0x0A>']) expect(v.tokens).toContain(p);
    // Every multi-character piece is reachable by SPM merges: its prefix is a token too.
    for (const t of v.tokens.slice(259)) if ([...t].length > 1) expect(v.tokens).toContain(t.slice(0, -1));
  });

  it('rejects impossible shapes', async () => {
    await expect(writeLlavaPair(join(dir, 'bad'), { text: { nEmbd: 65 } })).rejects.toThrow(/multiple of nHead/);
    await expect(writeLlavaPair(join(dir, 'bad'), { vision: { imageSize: 30 } })).rejects.toThrow(/multiple of patchSize/);
  });

  it('ties the projector width to the text model when presets are overridden', async () => {
    // Real FireLLaVA shapes make GB-sized files; shrink them but keep the preset's other fields.
    const p = await writeLlavaPair(join(dir, 'shaped'), {
      tensorType: 'f16',
      text: { ...FIRELLAVA_13B_TEXT, nLayer: 1, nVocab: 1000, nFf: 256, nEmbd: 640, nHead: 5, nHeadKv: 5 },
      vision: { ...FIRELLAVA_VISION, nLayer: 1, nEmbd: 64, nHead: 4, nFf: 128, imageSize: 56 },
    });
    const r = await validateModelPair(p);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.mmproj?.projectionDim).toBe(640);
    expect(r.value.model.nCtxTrain).toBe(4096);
  });
});

describe('PNG encoder', () => {
  it('writes a decodable PNG with correct CRCs', () => {
    const png = encodePng(5, 3, gradientPixels(5, 3));
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    let at = 8;
    const chunks: string[] = [];
    let idat = Buffer.alloc(0);
    while (at < png.length) {
      const len = png.readUInt32BE(at);
      const type = png.toString('latin1', at + 4, at + 8);
      const body = png.subarray(at + 8, at + 8 + len);
      const crc = png.readUInt32BE(at + 8 + len);
      expect(crc).toBe(crc32(png.subarray(at + 4, at + 8 + len)) >>> 0);
      if (type === 'IDAT') idat = Buffer.concat([idat, body]);
      chunks.push(type);
      at += 12 + len;
    }
    expect(chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
    const raw = inflateSync(idat);
    expect(raw.length).toBe(3 * (1 + 5 * 3));
    expect([...raw.subarray(1, 4)]).toEqual([0, 0, 128]);
    expect([...raw.subarray(1 + 4 * 3, 1 + 5 * 3)]).toEqual([255, 0, 128]);
  });

  it('writes the broken images', async () => {
    const fx = await getFixtures();
    expect((await stat(fx.images.emptyPng)).size).toBe(0);
    const full = await readFile(fx.images.png64x48);
    const cut = await readFile(fx.images.truncatedPng);
    expect(cut.length).toBeLessThan(full.length);
    expect(full.subarray(0, cut.length)).toEqual(cut);
    expect((await readFile(fx.images.notAnImage)).subarray(0, 8)).not.toEqual(PNG_SIGNATURE);
  });
});

describe('firellava fixtures command', () => {
  it('writes everything and prints the paths', async () => {
    const out = join(dir, 'cli');
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await run(['--out', out, '--type', 'f16'])).toBe(0);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const printed = lines.join('\n');
    expect(printed).toMatch(/^model\s+.*model-f16\.gguf$/m);
    expect(printed).toMatch(/^broken\.truncatedModel\s+/m);
    expect(printed).toMatch(/^images\.png32\s+/m);
    expect((await readdir(out)).sort()).toEqual(['broken', 'images', 'mmproj-f16.gguf', 'model-f16.gguf']);
  });

  it('rejects bad options', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await run([])).toBe(2);
      expect(await run(['--out', dir, '--type', 'q4'])).toBe(2);
      expect(await run(['--out', dir, '--layers', '3'])).toBe(2);
      expect(await run(['--out', dir, '--bogus'])).toBe(2);
    } finally {
      err.mockRestore();
    }
  });
});
