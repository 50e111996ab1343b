import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readWindowState, restoreWindowState, trackWindowState, writeWindowState, type Rect, type TrackedWindowLike } from '../../electron/main/window-state';

const laptop: Rect = { x: 0, y: 25, width: 1440, height: 875 };
const external: Rect = { x: 1440, y: 0, width: 2560, height: 1440 };

describe('restoreWindowState', () => {
  it('keeps a position that is on a connected display', () => {
    expect(restoreWindowState({ x: 1600, y: 100, width: 1400, height: 900, maximized: true }, [laptop, external])).toEqual({ x: 1600, y: 100, width: 1400, height: 900, maximized: true });
  });

  it('drops the position when its display is gone, and shrinks to fit the largest screen', () => {
    expect(restoreWindowState({ x: 1600, y: 100, width: 2400, height: 1300, maximized: false }, [laptop])).toEqual({ width: 1440, height: 875, maximized: false });
  });

  it('drops a position whose title bar would be off-screen', () => {
    expect(restoreWindowState({ x: 100, y: -500, width: 800, height: 600 }, [laptop])).toEqual({ width: 800, height: 600, maximized: false });
    expect(restoreWindowState({ x: 1400, y: 100, width: 800, height: 600 }, [laptop])).toEqual({ width: 800, height: 600, maximized: false });
  });

  it('falls back to the default size for missing or corrupt data and enforces the minimum size', () => {
    for (const bad of [null, undefined, 'x', 42, [], {}, { width: 'big', height: 5 }, { width: NaN, height: 600 }, { width: 1e9, height: 1e9 }]) {
      expect(restoreWindowState(bad, [external]), JSON.stringify(bad)).toEqual({ width: 1200, height: 820, maximized: false });
    }
    expect(restoreWindowState({ width: 10, height: 10 }, [external])).toEqual({ width: 640, height: 480, maximized: false });
  });
});

describe('window state file and tracking', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  it('round-trips through the file and treats a corrupt file as absent', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-winstate-'));
    const file = path.join(dir, 'nested', 'window-state.json');
    expect(await readWindowState(file)).toBeNull();
    await writeWindowState(file, { x: 5, y: 30, width: 900, height: 700, maximized: false });
    expect(await readWindowState(file)).toEqual({ x: 5, y: 30, width: 900, height: 700, maximized: false });
    writeFileSync(file, '{"width": 9');
    expect(await readWindowState(file)).toBeNull();
  });

  it('saves normal bounds after moves settle, skips while minimised, and saves on close', async () => {
    const listeners = new Map<string, () => void>();
    let bounds: Rect = { x: 10, y: 40, width: 1000, height: 700 };
    let maximized = false;
    let minimized = false;
    const win: TrackedWindowLike = {
      getNormalBounds: () => bounds,
      isMaximized: () => maximized,
      isMinimized: () => minimized,
      on: (event, l) => void listeners.set(event, l),
    };
    const saved: unknown[] = [];
    trackWindowState(win, (s) => saved.push(s), 20);
    bounds = { ...bounds, x: 50 };
    listeners.get('move')!();
    listeners.get('move')!();
    listeners.get('resize')!();
    expect(saved).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(saved).toEqual([{ x: 50, y: 40, width: 1000, height: 700, maximized: false }]);
    minimized = true;
    listeners.get('resize')!();
    await new Promise((r) => setTimeout(r, 60));
    expect(saved).toHaveLength(1);
    minimized = false;
    maximized = true;
    listeners.get('close')!();
    expect(saved.at(-1)).toEqual({ x: 50, y: 40, width: 1000, height: 700, maximized: true });
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved);
  });
});

