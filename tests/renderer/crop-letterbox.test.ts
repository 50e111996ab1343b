import { describe, expect, it } from 'vitest';
import { cropRect, downscaleFactor, letterbox, nudgeCrop } from '../../renderer/src/lib/model-view';

describe('what the model sees', () => {
  it('pads a wide screenshot to a square and scales it to 336', () => {
    expect(letterbox(1920, 1080)).toEqual({ x: 0, y: 73.5, width: 336, height: 189 });
    expect(letterbox(100, 400)).toEqual({ x: 126, y: 0, width: 84, height: 336 });
    expect(letterbox(336, 336)).toEqual({ x: 0, y: 0, width: 336, height: 336 });
    expect(downscaleFactor(1920, 1080)).toBeCloseTo(5.71, 2);
  });

  it('turns a drag in any direction into a clamped whole-pixel crop, ignoring tiny ones', () => {
    expect(cropRect(300.4, 200.6, 100, 50, 640, 480)).toEqual({ x: 100, y: 50, width: 200, height: 151 });
    expect(cropRect(-20, -20, 9999, 30, 640, 480)).toEqual({ x: 0, y: 0, width: 640, height: 30 });
    expect(cropRect(10, 10, 14, 200, 640, 480)).toBeNull();
  });

  it('moves and resizes a crop from the keyboard in 5% steps, inside the image', () => {
    // From the whole image: Shift+Left takes 5% off the right edge, then Right moves it over.
    const narrower = nudgeCrop(null, 'ArrowLeft', true, 640, 480);
    expect(narrower).toEqual({ x: 0, y: 0, width: 608, height: 480 });
    expect(nudgeCrop(narrower, 'ArrowRight', false, 640, 480)).toEqual({ x: 32, y: 0, width: 608, height: 480 });
    // Never past the image's edge, never below the minimum size, at least 1 px a step.
    expect(nudgeCrop({ x: 32, y: 0, width: 608, height: 480 }, 'ArrowRight', false, 640, 480).x).toBe(32);
    expect(nudgeCrop({ x: 32, y: 0, width: 608, height: 480 }, 'ArrowDown', true, 640, 480).height).toBe(480);
    expect(nudgeCrop({ x: 0, y: 0, width: 10, height: 10 }, 'ArrowUp', true, 640, 480).height).toBe(8);
    expect(nudgeCrop({ x: 0, y: 0, width: 10, height: 10 }, 'ArrowDown', false, 10, 19)).toEqual({ x: 0, y: 1, width: 10, height: 10 });
  });
});
