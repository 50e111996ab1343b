// libvips (sharp) has no BMP loader, so uncompressed BMPs, the kind screenshot tools and Paint
// write, are decoded here into RGB(A) pixels. Anything else gets a clear "save as PNG" message.
import { AppErrorException } from '../shared/errors';

export interface RawImage {
  width: number;
  height: number;
  channels: 3 | 4;
  pixels: Buffer;
}

const unsupported = (what: string): AppErrorException =>
  new AppErrorException({ code: 'IMAGE_INVALID', message: `This BMP uses ${what}, which is not supported; save the image as PNG and attach it again.` });

/** Assumes inspectImage already checked the header and that the pixel rows are inside the file. */
export function decodeBmp(b: Uint8Array): RawImage {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const offset = v.getUint32(10, true);
  const dib = v.getUint32(14, true);
  if (dib < 40) throw unsupported('an old OS/2 header');
  const width = v.getInt32(18, true);
  const rawHeight = v.getInt32(22, true);
  const height = Math.abs(rawHeight);
  const bpp = v.getUint16(28, true);
  const compression = v.getUint32(30, true);
  const paletteCount = v.getUint32(46, true) || (bpp <= 8 ? 1 << bpp : 0);
  if (!(compression === 0 || (compression === 3 && bpp === 32))) throw unsupported(`compression ${compression}`);
  if (![8, 24, 32].includes(bpp)) throw unsupported(`${bpp} bits per pixel`);
  const channels = bpp === 32 ? 4 : 3;
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (offset + stride * height > b.length) throw new AppErrorException({ code: 'IMAGE_INVALID', message: 'The image is truncated (BMP data ends inside the pixel data)' });
  const palette = 14 + dib;
  const out = Buffer.alloc(width * height * channels);
  let anyAlpha = false;
  for (let y = 0; y < height; y++) {
    const row = offset + (rawHeight > 0 ? height - 1 - y : y) * stride; // positive height = bottom-up rows
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      let at = row + x * (bpp / 8);
      if (bpp === 8) {
        const index = b[at]!;
        if (index >= paletteCount) throw new AppErrorException({ code: 'IMAGE_INVALID', message: 'The BMP image is damaged (colour index outside the palette).' });
        at = palette + index * 4;
      }
      out[o] = b[at + 2]!;
      out[o + 1] = b[at + 1]!;
      out[o + 2] = b[at]!;
      if (channels === 4) {
        out[o + 3] = b[at + 3]!;
        if (b[at + 3] !== 0) anyAlpha = true;
      }
    }
  }
  // Many 32-bit BMPs leave the fourth byte at 0: that means "no alpha", not "invisible".
  if (channels === 4 && !anyAlpha) for (let i = 3; i < out.length; i += 4) out[i] = 255;
  return { width, height, channels, pixels: out };
}
