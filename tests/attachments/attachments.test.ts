import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { createAttachmentStore, resolveAttachmentFile } from '../../electron/attachments/attachment-store';
import { inspectImage, MAX_STORED_EDGE } from '../../electron/attachments/image-inspect';
import { MAX_IMAGE_BYTES } from '../../electron/shared/limits';
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

  it('names HEIC, AVIF and TIFF files and says how to get a JPEG, instead of "not an image"', () => {
    // The first bytes of each as cameras and phones write them: an ISO-BMFF ftyp box, or the TIFF byte order mark.
    const ftyp = (major: string, ...compatible: string[]): Buffer => {
      const box = Buffer.alloc(16 + 4 * compatible.length + 64);
      box.writeUInt32BE(16 + 4 * compatible.length, 0);
      box.write(`ftyp${major}`, 4, 'latin1');
      compatible.forEach((c, i) => box.write(c, 16 + 4 * i, 'latin1'));
      return box;
    };
    const message = (b: Buffer): string => errorOf(() => inspectImage(b)).message;
    expect(message(ftyp('heic', 'mif1', 'heic'))).toMatch(/^This HEIC photo is not a supported image\. Save it as JPEG first \(on an iPhone/);
    expect(message(ftyp('mif1', 'mif1', 'heic'))).toMatch(/^This HEIC photo/);
    expect(message(ftyp('avif', 'mif1', 'miaf'))).toMatch(/^This AVIF image/);
    expect(message(ftyp('mif1', 'avif', 'mif1'))).toMatch(/^This AVIF image/);
    expect(message(ftyp('isom', 'mp41'))).toBe('This file is not a supported image. Use PNG, JPEG, GIF, WebP or BMP.'); // a video is no photo
    // A box claiming 4 GB: only its first brands are read (a brand deep inside is not looked for).
    const huge = Buffer.alloc(32 * 1024 * 1024, 'isom');
    huge.writeUInt32BE(0xffffffff, 0);
    huge.write('ftypisom', 4, 'latin1');
    huge.write('heic', 4000, 'latin1');
    expect(message(huge)).toBe('This file is not a supported image. Use PNG, JPEG, GIF, WebP or BMP.');
    expect(message(Buffer.from('II*\0\x08\0\0\0', 'latin1'))).toMatch(/^This TIFF image/);
    expect(message(Buffer.from('MM\0*\0\0\0\x08', 'latin1'))).toMatch(/^This TIFF image/);
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
    const huge = new Uint8Array(MAX_IMAGE_BYTES + 1);
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

  it('stores a re-encoded copy by content hash, with a thumbnail, and dedupes', async () => {
    const store = createAttachmentStore(tempDir());
    const png = makePng(28, 28, 1);
    const a = await store.add(png);
    const b = await store.add(new Uint8Array(png));
    expect(a).toEqual(b);
    expect(a).toMatchObject({ mimeType: 'image/png', width: 28, height: 28 });
    expect(a.id).toMatch(/^[a-f0-9]{64}$/);
    const stored = readFileSync(path.join(store.dir, `${a.id}.png`));
    expect(a.byteLength).toBe(stored.length);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(a.id); // named by what is on disk
    expect(readdirSync(store.dir).sort()).toEqual([`${a.id}.png`, 'thumbs']);
    expect(readdirSync(path.join(store.dir, 'thumbs'))).toEqual([`${a.id}.jpg`]);
    expect(await store.pathOf(a.id)).toBe(path.join(store.dir, `${a.id}.png`));
    const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#c33' } }).jpeg().toBuffer();
    const c = await store.add(jpeg);
    expect(c).toMatchObject({ mimeType: 'image/jpeg', width: 40, height: 30 });
    expect(readdirSync(store.dir).sort()).toEqual([`${a.id}.png`, `${c.id}.jpg`, 'thumbs'].sort());
    expect(await store.info(c.id)).toEqual(c);
  });

  it('removes EXIF and GPS metadata and applies the orientation first', async () => {
    const store = createAttachmentStore(tempDir());
    const photo = await sharp({ create: { width: 60, height: 20, channels: 3, background: '#3a6' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .withExif({ IFD0: { Make: 'SpyCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 24/1' } })
      .toBuffer();
    expect(photo.includes(Buffer.from('SpyCam'))).toBe(true);
    expect((await sharp(photo).metadata()).orientation).toBe(6);
    const info = await store.add(photo);
    const stored = readFileSync(await store.pathOf(info.id));
    const meta = await sharp(stored).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(stored.includes(Buffer.from('SpyCam'))).toBe(false);
    expect(stored.includes(Buffer.from('GPS'))).toBe(false);
    expect({ width: info.width, height: info.height }).toEqual({ width: 20, height: 60 }); // rotated upright
  });

  it('converts WebP, GIF and BMP to PNG the engine can read, thumbnail at most 256 px', async () => {
    const store = createAttachmentStore(tempDir());
    const webp = await sharp({ create: { width: 600, height: 300, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } } }).webp().toBuffer();
    const w = await store.add(webp);
    expect(w).toMatchObject({ mimeType: 'image/png', width: 600, height: 300 });
    expect((await store.pathOf(w.id)).endsWith('.png')).toBe(true);
    const thumb = await resolveAttachmentFile(store.dir, w.id, 'thumb');
    expect(thumb?.mimeType).toBe('image/jpeg');
    expect(await sharp(thumb!.path).metadata()).toMatchObject({ width: 256, height: 128, format: 'jpeg' });
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).gif().toBuffer();
    expect((await store.add(gif)).mimeType).toBe('image/png');
    const bmp = makeBmp(4, 4);
    bmp.fill(0xff, 54); // white pixels
    const b = await store.add(bmp);
    expect(b).toMatchObject({ mimeType: 'image/png', width: 4, height: 4 });
    expect((await sharp(await store.pathOf(b.id)).raw().toBuffer()).every((v) => v === 255)).toBe(true);
  });

  it('refuses bytes that look like an image but do not decode, storing nothing', async () => {
    const dir = tempDir();
    const store = createAttachmentStore(dir);
    const e = await asyncErrorOf(store.add(makeJpeg()));
    expect(e.code).toBe('IMAGE_INVALID');
    expect(e.message).toMatch(/could not be decoded/);
    expect(existsSync(store.dir)).toBe(false);
  });

  it('resolves ids to files only inside the folder, for the image route and protocol', async () => {
    const store = createAttachmentStore(tempDir());
    const a = await store.add(makePng(28, 28, 2));
    expect(await resolveAttachmentFile(store.dir, a.id)).toEqual({ path: path.join(store.dir, `${a.id}.png`), mimeType: 'image/png' });
    for (const id of ['../history.sqlite', `${a.id}/../../x`, `${a.id}.png`, a.id.toUpperCase(), '']) {
      expect(await resolveAttachmentFile(store.dir, id)).toBeNull();
    }
  });

  it('collects files no message refers to, but not fresh ones', async () => {
    const store = createAttachmentStore(tempDir());
    const keep = await store.add(makePng(28, 28, 3));
    const drop = await store.add(makePng(28, 28, 4));
    expect(await store.collect(new Set([keep.id]))).toBe(0); // an hour of grace for images still in a composer
    expect(await store.collect(new Set([keep.id]), 0)).toBe(1);
    expect(await resolveAttachmentFile(store.dir, drop.id, 'thumb')).toBeNull();
    expect(await store.pathOf(keep.id)).toMatch(/\.png$/);
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

/** A small real JPEG whose frame header is patched to claim width×height (a decompression bomb). */
async function makeJpegBomb(width: number, height: number): Promise<Buffer> {
  const jpeg = Buffer.from(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#888' } }).jpeg().toBuffer());
  for (let i = 2; i < jpeg.length - 9; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1]! >= 0xc0 && jpeg[i + 1]! <= 0xc2) {
      jpeg.writeUInt16BE(height, i + 5);
      jpeg.writeUInt16BE(width, i + 7);
      return jpeg;
    }
  }
  throw new Error('no SOF marker');
}

describe('decompression bombs and symlinks', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'firellava-bomb-'));
    dirs.push(d);
    return d;
  };

  it('stores a JPEG claiming 10000×10000 downscaled to at most 4096 px on the long side', async () => {
    const bomb = await makeJpegBomb(10000, 10000);
    expect(bomb.length).toBeLessThan(2000);
    const store = createAttachmentStore(tempDir());
    const info = await store.add(bomb);
    expect(Math.max(info.width, info.height)).toBeLessThanOrEqual(MAX_STORED_EDGE);
    const meta = await sharp(await store.pathOf(info.id)).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(MAX_STORED_EDGE);
  });

  it('does not serve a symlink placed in the attachments folder', async () => {
    const dir = tempDir();
    const outside = path.join(dir, 'secret.png');
    writeFileSync(outside, makePng(4, 4, 1));
    const id = 'a'.repeat(64);
    mkdirSync(path.join(dir, 'attachments'));
    symlinkSync(outside, path.join(dir, 'attachments', `${id}.png`));
    expect(await resolveAttachmentFile(path.join(dir, 'attachments'), id)).toBeNull();
  });
});
