// Decides from the bytes alone whether an upload is a complete image we can hand to the engine.
// Structure only (no decoding): enough to catch empty, foreign and truncated files early with a
// message a person understands, instead of a crash or a stuck context in the engine.
import { AppErrorException } from '../shared/errors';
import { MAX_IMAGE_BYTES, megabytes } from '../shared/limits';

export const MAX_ATTACHMENT_PIXELS = 100_000_000;
/** Stored images are downscaled on decode to this long side: the model sees 336 px, the preview/crop needs little more. */
export const MAX_STORED_EDGE = 4096;

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';

export interface ImageFacts {
  format: ImageFormat;
  mimeType: string;
  ext: string;
  width: number;
  height: number;
}

const FORMATS: Record<ImageFormat, { mimeType: string; ext: string; label: string }> = {
  png: { mimeType: 'image/png', ext: 'png', label: 'PNG' },
  jpeg: { mimeType: 'image/jpeg', ext: 'jpg', label: 'JPEG' },
  gif: { mimeType: 'image/gif', ext: 'gif', label: 'GIF' },
  webp: { mimeType: 'image/webp', ext: 'webp', label: 'WebP' },
  bmp: { mimeType: 'image/bmp', ext: 'bmp', label: 'BMP' },
};

export const IMAGE_EXTENSIONS: readonly string[] = Object.values(FORMATS).map((f) => f.ext);

const invalid = (message: string): AppErrorException => new AppErrorException({ code: 'IMAGE_INVALID', message });
const truncated = (format: ImageFormat, why: string): AppErrorException =>
  invalid(`The image is truncated (${FORMATS[format].label} data ${why})`);

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const ascii = (b: Uint8Array, at: number, len: number): string => String.fromCharCode(...b.subarray(at, at + len));

export function sniffFormat(b: Uint8Array): ImageFormat | null {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (ascii(b, 0, 2) === 'BM' && b.length >= 14) return 'bmp';
  return null;
}

const HEIC_BRANDS = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'];

/**
 * Image formats people have that we do not take, by their signature: their refusal names the
 * format and the way out (an iPhone's photos are HEIC unless the camera is set to JPEG).
 */
function foreignImage(b: Uint8Array): string | null {
  if (ascii(b, 0, 4) === 'II*\0' || ascii(b, 0, 4) === 'MM\0*') return 'This TIFF image is not a supported image. Save it as PNG or JPEG first.';
  if (b.length < 16 || ascii(b, 4, 4) !== 'ftyp') return null;
  // Real ftyp boxes list a handful of brands; a hostile size must not make this a long loop.
  const size = Math.min(b.length, 256, new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0));
  const brands = [ascii(b, 8, 4)];
  for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(b, at, 4));
  if (brands.some((x) => x === 'avif' || x === 'avis')) return 'This AVIF image is not a supported image. Save it as PNG or JPEG first.';
  if (brands.some((x) => HEIC_BRANDS.includes(x))) {
    return 'This HEIC photo is not a supported image. Save it as JPEG first (on an iPhone, Settings → Camera → Formats → Most Compatible takes JPEG photos).';
  }
  return null;
}

/** Throws AppErrorException with IMAGE_INVALID or IMAGE_TOO_LARGE. */
export function inspectImage(bytes: Uint8Array): ImageFacts {
  if (bytes.length === 0) throw invalid('The image is empty (0 bytes).');
  if (bytes.length > MAX_IMAGE_BYTES) {
    throw new AppErrorException({
      code: 'IMAGE_TOO_LARGE',
      message: `The image is ${(bytes.length / 1024 / 1024).toFixed(1)} MB; the limit is ${megabytes(MAX_IMAGE_BYTES)}.`,
    });
  }
  const format = sniffFormat(bytes);
  if (!format) throw invalid(foreignImage(bytes) ?? 'This file is not a supported image. Use PNG, JPEG, GIF, WebP or BMP.');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { width, height } = READERS[format](bytes, view);
  if (!(width > 0 && height > 0)) throw invalid(`The ${FORMATS[format].label} image has no pixels (${width}×${height}).`);
  if (width * height > MAX_ATTACHMENT_PIXELS) {
    throw new AppErrorException({
      code: 'IMAGE_TOO_LARGE',
      message: `The image is ${width}×${height} pixels (${((width * height) / 1e6).toFixed(0)} megapixels); the limit is ${MAX_ATTACHMENT_PIXELS / 1e6} megapixels.`,
    });
  }
  return { format, ...FORMATS[format], width, height };
}

type Reader = (b: Uint8Array, v: DataView) => { width: number; height: number };

const readPng: Reader = (b, v) => {
  if (b.length < 33) throw truncated('png', 'ends before the IHDR chunk');
  if (v.getUint32(8) !== 13 || ascii(b, 12, 4) !== 'IHDR') throw invalid('The PNG image is damaged (the first chunk is not IHDR).');
  const width = v.getUint32(16);
  const height = v.getUint32(20);
  let at = 8;
  for (;;) {
    if (at + 12 > b.length) throw truncated('png', 'ends before the IEND chunk');
    const length = v.getUint32(at);
    const type = ascii(b, at + 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type)) throw invalid(`The PNG image is damaged (bad chunk type at byte ${at + 4}).`);
    if (at + 12 + length > b.length) throw truncated('png', `ends inside the ${type} chunk`);
    if (type === 'IEND') break;
    at += 12 + length;
  }
  return { width, height };
};

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

const readJpeg: Reader = (b, v) => {
  let at = 2;
  let size: { width: number; height: number } | null = null;
  for (;;) {
    // Markers may be padded with any number of 0xFF fill bytes.
    while (at < b.length && b[at] === 0xff && b[at + 1] === 0xff) at++;
    if (at + 2 > b.length) throw truncated('jpeg', 'ends before the image scan');
    if (b[at] !== 0xff) throw invalid(`The JPEG image is damaged (no marker at byte ${at}).`);
    const marker = b[at + 1]!;
    at += 2;
    if (marker === 0xd9) throw invalid('The JPEG image is damaged (it ends before any image data).');
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length field
    if (at + 2 > b.length) throw truncated('jpeg', 'ends inside a segment header');
    const length = v.getUint16(at);
    if (length < 2) throw invalid(`The JPEG image is damaged (bad segment length at byte ${at}).`);
    if (at + length > b.length) throw truncated('jpeg', 'ends inside a segment');
    if (isSof(marker)) {
      if (length < 8) throw invalid('The JPEG image is damaged (short frame header).');
      size = { height: v.getUint16(at + 3), width: v.getUint16(at + 5) };
    }
    at += length;
    if (marker === 0xda) break;
  }
  if (!size) throw invalid('The JPEG image is damaged (no frame header before the image data).');
  // Entropy-coded data may contain more scans; an intact file still ends with EOI (trailing junk allowed).
  let eoi = -1;
  for (let i = b.length - 2; i >= at; i--) {
    if (b[i] === 0xff && b[i + 1] === 0xd9) {
      eoi = i;
      break;
    }
  }
  if (eoi < 0) throw truncated('jpeg', 'ends before the end-of-image marker');
  return size;
};

const readGif: Reader = (b, v) => {
  if (b.length < 13) throw truncated('gif', 'ends inside the header');
  const width = v.getUint16(6, true);
  const height = v.getUint16(8, true);
  const flags = b[10]!;
  let at = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  const skipSubBlocks = (): void => {
    for (;;) {
      if (at >= b.length) throw truncated('gif', 'ends inside a data block');
      const n = b[at]!;
      at += 1 + n;
      if (n === 0) return;
    }
  };
  let frames = 0;
  for (;;) {
    if (at >= b.length) throw truncated('gif', 'ends before the trailer');
    const kind = b[at]!;
    if (kind === 0x3b) break;
    if (kind === 0x21) {
      at += 2;
      skipSubBlocks();
    } else if (kind === 0x2c) {
      if (at + 10 > b.length) throw truncated('gif', 'ends inside an image descriptor');
      const local = b[at + 9]!;
      at += 10 + (local & 0x80 ? 3 * 2 ** ((local & 7) + 1) : 0) + 1; // + LZW minimum code size
      skipSubBlocks();
      frames++;
    } else {
      throw invalid(`The GIF image is damaged (unknown block 0x${kind.toString(16)} at byte ${at}).`);
    }
  }
  if (frames === 0) throw invalid('The GIF image contains no frames.');
  return { width, height };
};

const readWebp: Reader = (b, v) => {
  if (b.length < 30) throw truncated('webp', 'ends inside the header');
  const declared = v.getUint32(4, true) + 8;
  if (declared > b.length) throw truncated('webp', `is ${b.length} bytes but declares ${declared}`);
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8X') return { width: 1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16)), height: 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16)) };
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) throw invalid('The WebP image is damaged (bad lossless signature).');
    const bits = v.getUint32(21, true);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
  }
  if (chunk === 'VP8 ') {
    if (!startsWith(b, [0x9d, 0x01, 0x2a], 23)) throw invalid('The WebP image is damaged (bad frame start code).');
    return { width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
  }
  throw invalid(`The WebP image is damaged (unknown chunk "${chunk}").`);
};

const readBmp: Reader = (b, v) => {
  if (b.length < 26) throw truncated('bmp', 'ends inside the header');
  const declared = v.getUint32(2, true);
  if (declared > b.length) throw truncated('bmp', `is ${b.length} bytes but declares ${declared}`);
  const pixelOffset = v.getUint32(10, true);
  const dib = v.getUint32(14, true);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  if (dib === 12) {
    width = v.getUint16(18, true);
    height = v.getUint16(20, true);
    bpp = v.getUint16(24, true);
  } else if (dib >= 40) {
    if (b.length < 34) throw truncated('bmp', 'ends inside the header');
    width = v.getInt32(18, true);
    height = Math.abs(v.getInt32(22, true)); // negative = top-down rows
    bpp = v.getUint16(28, true);
    compression = v.getUint32(30, true);
  } else {
    throw invalid(`The BMP image is damaged (unknown header size ${dib}).`);
  }
  if (pixelOffset >= b.length) throw truncated('bmp', 'ends before the pixel data');
  if (compression === 0 && width > 0 && height > 0) {
    const rowBytes = Math.floor((bpp * width + 31) / 32) * 4;
    if (pixelOffset + rowBytes * height > b.length) throw truncated('bmp', 'ends inside the pixel data');
  }
  return { width, height };
};

const READERS: Record<ImageFormat, Reader> = { png: readPng, jpeg: readJpeg, gif: readGif, webp: readWebp, bmp: readBmp };
