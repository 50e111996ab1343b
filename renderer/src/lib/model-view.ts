// What LLaVA-1.5 does to an image before the model sees it: pad to a square with the CLIP mean
// colour, then scale to 336×336. Small text that survives at full size is often gone after that,
// which is why the composer offers a crop and shows this preview.
export const MODEL_IMAGE_SIZE = 336;
/** CLIP's image_mean (0.481, 0.458, 0.408) in 0-255: the colour LLaVA pads with. */
export const PAD_RGB = [122, 116, 104] as const;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where a width×height image lands inside the size×size square the model sees. */
export function letterbox(width: number, height: number, size = MODEL_IMAGE_SIZE): Rect {
  const scale = size / Math.max(width, height);
  const w = width * scale;
  const h = height * scale;
  return { x: (size - w) / 2, y: (size - h) / 2, width: w, height: h };
}

/** How many source pixels one model pixel covers: above ~2, small text usually becomes unreadable. */
export function downscaleFactor(width: number, height: number, size = MODEL_IMAGE_SIZE): number {
  return Math.max(width, height) / size;
}

/** A drag from (x0,y0) to (x1,y1), clamped to the image and rounded to whole pixels; null if too small. */
export function cropRect(x0: number, y0: number, x1: number, y1: number, width: number, height: number, minSize = 8): Rect | null {
  const clamp = (v: number, max: number): number => Math.min(max, Math.max(0, v));
  const left = Math.round(clamp(Math.min(x0, x1), width));
  const top = Math.round(clamp(Math.min(y0, y1), height));
  const right = Math.round(clamp(Math.max(x0, x1), width));
  const bottom = Math.round(clamp(Math.max(y0, y1), height));
  if (right - left < minSize || bottom - top < minSize) return null;
  return { x: left, y: top, width: right - left, height: bottom - top };
}

export type CropKey = 'ArrowLeft' | 'ArrowRight' | 'ArrowUp' | 'ArrowDown';

/**
 * One keyboard step on a crop of a width×height image (null: the whole image): arrows move it,
 * with `resize` (Shift) they move its right / bottom edge. Steps are 5% of the image, at least 1 px;
 * the result stays inside the image and at least minSize (as cropRect) wide and tall.
 */
export function nudgeCrop(crop: Rect | null, key: CropKey, resize: boolean, width: number, height: number, minSize = 8): Rect {
  const r = { ...(crop ?? { x: 0, y: 0, width, height }) };
  const horizontal = key === 'ArrowLeft' || key === 'ArrowRight';
  const step = Math.max(1, Math.round((horizontal ? width : height) / 20)) * (key === 'ArrowLeft' || key === 'ArrowUp' ? -1 : 1);
  const clamp = (v: number, min: number, max: number): number => Math.min(max, Math.max(min, v));
  if (resize && horizontal) r.width = clamp(r.width + step, Math.min(minSize, width), width - r.x);
  else if (resize) r.height = clamp(r.height + step, Math.min(minSize, height), height - r.y);
  else if (horizontal) r.x = clamp(r.x + step, 0, width - r.width);
  else r.y = clamp(r.y + step, 0, height - r.height);
  return r;
}

/** Draws `source` (optionally only `crop` of it) as the model will see it. */
export function drawModelView(ctx: CanvasRenderingContext2D, source: CanvasImageSource, srcWidth: number, srcHeight: number, crop: Rect | null): void {
  const region = crop ?? { x: 0, y: 0, width: srcWidth, height: srcHeight };
  const box = letterbox(region.width, region.height);
  ctx.fillStyle = `rgb(${PAD_RGB.join(',')})`;
  ctx.fillRect(0, 0, MODEL_IMAGE_SIZE, MODEL_IMAGE_SIZE);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, region.x, region.y, region.width, region.height, box.x, box.y, box.width, box.height);
}
