// Finding an image in paste/drop data, and making it something the engine can decode.

import { MAX_IMAGE_BYTES } from '../../../electron/shared/limits';

export { MAX_IMAGE_BYTES };

/** Clipboard sources differ: screenshots arrive only in `items`, copied files often only in `files`. */
export function imageFromClipboard(data: DataTransfer | null): File | null {
  if (!data) return null;
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind === 'file' && item.type.startsWith('image/')) {
      const file = item.getAsFile();
      if (file) return file;
    }
  }
  return Array.from(data.files ?? []).find((f) => f.type.startsWith('image/')) ?? null;
}

/** Every image in a paste: items first (screenshot tools), then files not already seen. */
export function imagesFromClipboard(data: DataTransfer | null): File[] {
  if (!data) return [];
  const out: File[] = [];
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind === 'file' && item.type.startsWith('image/')) {
      const file = item.getAsFile();
      if (file) out.push(file);
    }
  }
  if (out.length > 0) return out;
  return Array.from(data.files ?? []).filter((f) => f.type.startsWith('image/'));
}

/** Every dropped file that may be an image: typed image/*, or untyped (the backend sniffs the bytes). */
export function imagesFromDrop(data: DataTransfer | null): File[] {
  return Array.from(data?.files ?? []).filter((f) => f.type === '' || f.type.startsWith('image/'));
}

const isWebp = (b: Uint8Array): boolean =>
  b.length > 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP';

/** The engine decodes PNG, JPEG, GIF and BMP but not WebP, so WebP is re-encoded as PNG here. */
export async function engineReadableBytes(file: Blob): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (!isWebp(bytes)) return bytes;
  try {
    const bitmap = await createImageBitmap(file);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
    bitmap.close();
    return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  } catch {
    return bytes; // undecodable: the backend will explain what is wrong
  }
}

/** Decoder wording ("PNG data ends inside the IDAT chunk") means nothing to most people. */
const TECHNICAL_IMAGE_ERROR = /decod|truncat|damaged|ends inside|could not read this image|chunk|corrupt/i;
export const DAMAGED_IMAGE_TEXT = 'This image is damaged or incomplete. Try saving it again or attach another image.';

/** A plain sentence for an image error, with the decoder's own words kept as detail. */
export function plainImageError(error: { code?: string; message: string; detail?: string }): { message: string; detail: string | null } {
  const technical = (error.code === undefined || error.code === 'IMAGE_INVALID') && TECHNICAL_IMAGE_ERROR.test(`${error.message} ${error.detail ?? ''}`);
  if (!technical) return { message: error.message, detail: error.detail ?? null };
  return { message: DAMAGED_IMAGE_TEXT, detail: [error.message, error.detail].filter(Boolean).join(': ') };
}
