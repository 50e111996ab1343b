import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import { inspectImage, MAX_ATTACHMENT_BYTES } from '../../electron/attachments/image-inspect';
import { AppErrorException, type AppError } from '../../electron/shared/errors';
import { makeBmp, makeGif, makeJpeg, makePng, makePngHeaderOnly, makeWebp } from '../helpers/test-images';

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppErrorException) return err.error;
    throw err;
  }
  throw new Error('expected an AppErrorException');
}

async function asyncErrorOf(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppErrorException) return err.error;
    throw err;
  }
  throw new Error('expected an AppErrorException');
}

describe('inspectImage', () => {
  it('reads size and type of each format from the bytes', () => {
    expect(inspectImage(makePng(28, 20))).toMatchObject({ format: 'png', mimeType: 'image/png', ext: 'png', width: 28, height: 20 });
    expect(inspectImage(makeJpeg(32, 24))).toMatchObject({ format: 'jpeg', ext: 'jpg', width: 32, height: 24 });
    expect(inspectImage(makeGif(3, 2))).toMatchObject({ format: 'gif', width: 3, height: 2 });
    expect(inspectImage(makeBmp(2, 2))).toMatchObject({ format: 'bmp', width: 2, height: 2 });
    expect(inspectImage(makeWebp(5, 7))).toMatchObject({ format: 'webp', width: 5, height: 7 });
  });

  it('refuses zero bytes', () => {
    expect(errorOf(() => inspectImage(new Uint8Array(0)))).toEqual({ code: 'IMAGE_INVALID', message: 'The image is empty (0 bytes).' });
  });

  it('refuses bytes that are not an image', () => {
    const e = errorOf(() => inspectImage(Buffer.from('%PDF-1.7 definitely not an image')));
    expect(e.code).toBe('IMAGE_INVALID');
    expect(e.message).toMatch(/not a supported image/);
  });

  it('refuses a PNG cut anywhere before IEND, saying so', () => {
    const png = makePng();
    const e = errorOf(() => inspectImage(png.subarray(0, png.length - 12)));
    expect(e).toEqual({ code: 'IMAGE_INVALID', message: 'The image is truncated (PNG data ends before the IEND chunk)' });
    for (const cut of [8, 20, 40, png.length - 30, png.length - 1]) {
      const err = errorOf(() => inspectImage(png.subarray(0, cut)));
      expect(err.code).toBe('IMAGE_INVALID');
      expect(err.message).toMatch(/truncated/);
    }
  });

  it('refuses a JPEG without its end marker and other damaged layouts', () => {
    expect(errorOf(() => inspectImage(makeJpeg(8, 8, false))).message).toMatch(/truncated \(JPEG/);
    expect(errorOf(() => inspectImage(makeJpeg().subarray(0, 10))).message).toMatch(/truncated/);
    expect(errorOf(() => inspectImage(makeGif().subarray(0, 20))).message).toMatch(/truncated \(GIF/);
    const bmp = makeBmp(4, 4);
    expect(errorOf(() => inspectImage(bmp.subarray(0, bmp.length - 4))).message).toMatch(/truncated \(BMP/);
    const webp = makeWebp();
    expect(errorOf(() => inspectImage(webp.subarray(0, webp.length - 2))).message).toMatch(/truncated \(WebP/);
  });

  it('refuses more than 100 megapixels and more than 50 MB', () => {
    expect(errorOf(() => inspectImage(makePngHeaderOnly(20_000, 10_000))).code).toBe('IMAGE_TOO_LARGE');
    expect(inspectImage(makePngHeaderOnly(10_000, 10_000)).width).toBe(10_000);
    const huge = new Uint8Array(MAX_ATTACHMENT_BYTES + 1);
    huge.set(makePng());
    expect(errorOf(() => inspectImage(huge)).code).toBe('IMAGE_TOO_LARGE');
  });
});

describe('attachment store', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'firellava-att-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('stores by content hash and dedupes', async () => {
    const store = createAttachmentStore(tempDir());
    const png = makePng(28, 28, 1);
    const a = await store.add(png);
    const b = await store.add(new Uint8Array(png));
    expect(a).toEqual(b);
    expect(a).toMatchObject({ mimeType: 'image/png', byteLength: png.length, width: 28, height: 28 });
    expect(a.id).toMatch(/^[a-f0-9]{64}$/);
    expect(readdirSync(store.dir)).toEqual([`${a.id}.png`]);
    expect(await store.pathOf(a.id)).toBe(path.join(store.dir, `${a.id}.png`));
    const c = await store.add(makeJpeg());
    expect(readdirSync(store.dir).sort()).toEqual([`${a.id}.png`, `${c.id}.jpg`].sort());
  });

  it('stores nothing for a rejected image', async () => {
    const store = createAttachmentStore(tempDir());
    const e = await asyncErrorOf(store.add(makePng().subarray(0, 50)));
    expect(e.code).toBe('IMAGE_INVALID');
    expect(() => readdirSync(store.dir)).toThrow();
  });

  it('refuses ids that are not 64 lowercase hex, and unknown ids', async () => {
    const store = createAttachmentStore(tempDir());
    for (const id of ['../../etc/passwd', `${'a'.repeat(63)}/`, 'A'.repeat(64), `${'a'.repeat(64)}.png`, '', `../${'a'.repeat(61)}`]) {
      expect((await asyncErrorOf(store.pathOf(id))).code).toBe('INVALID_INPUT');
    }
    expect((await asyncErrorOf(store.pathOf('b'.repeat(64)))).code).toBe('NOT_FOUND');
  });
});
