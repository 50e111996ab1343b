// Remembers the window's size, position and maximised state between launches. What is read back
// is checked against the displays present now, so a window never reopens off-screen after a
// monitor was unplugged.
import { promises as fs } from 'node:fs';
import { writePrivateFile } from '../store/private-files';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WindowBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
}

export interface WindowState extends WindowBounds {
  maximized: boolean;
}

export const DEFAULT_WINDOW_SIZE = { width: 1200, height: 820 } as const;
const MIN = { width: 640, height: 480 } as const;
/** How much of the window (title bar included) must be on a display to keep the old position. */
const MIN_VISIBLE = 64;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e6;

function overlap(a: Rect, b: Rect): { w: number; h: number } {
  return {
    w: Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x),
    h: Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y),
  };
}

/**
 * Turns whatever was stored (possibly corrupt, possibly from another monitor setup) into safe
 * bounds for the displays' work areas. Position is dropped (the OS centres the window) when too
 * little of the window would be visible; size is clamped to the largest work area.
 */
export function restoreWindowState(stored: unknown, workAreas: readonly Rect[]): WindowState {
  const fallback: WindowState = { ...DEFAULT_WINDOW_SIZE, maximized: false };
  const largest = workAreas.reduce((m, a) => ({ width: Math.max(m.width, a.width), height: Math.max(m.height, a.height) }), { width: 0, height: 0 });
  const fit = (size: { width: number; height: number }) => ({
    width: Math.round(Math.max(MIN.width, largest.width > 0 ? Math.min(size.width, largest.width) : size.width)),
    height: Math.round(Math.max(MIN.height, largest.height > 0 ? Math.min(size.height, largest.height) : size.height)),
  });
  if (typeof stored !== 'object' || stored === null) return { ...fallback, ...fit(fallback) };
  const s = stored as Record<string, unknown>;
  if (!isInt(s.width) || !isInt(s.height)) return { ...fallback, ...fit(fallback) };
  const state: WindowState = { ...fit({ width: s.width, height: s.height }), maximized: s.maximized === true };
  if (isInt(s.x) && isInt(s.y)) {
    const rect = { x: Math.round(s.x), y: Math.round(s.y), width: state.width, height: state.height };
    const visible = workAreas.some((area) => {
      const o = overlap(rect, area);
      // the top strip must be reachable, or the user cannot drag the window back
      return o.w >= MIN_VISIBLE && o.h >= MIN_VISIBLE && rect.y >= area.y - 8 && rect.y < area.y + area.height - 32;
    });
    if (visible) {
      state.x = rect.x;
      state.y = rect.y;
    }
  }
  return state;
}

/** The stored JSON, or null when missing or unreadable (a corrupt file only costs the old size). */
export async function readWindowState(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

/** Atomic: a crash mid-write leaves the previous file, never half of one. */
export async function writeWindowState(file: string, state: WindowState): Promise<void> {
  await writePrivateFile(file, `${JSON.stringify(state)}\n`);
}

export interface TrackedWindowLike {
  getNormalBounds(): Rect;
  isMaximized(): boolean;
  isMinimized(): boolean;
  on(event: 'resize' | 'move' | 'maximize' | 'unmaximize' | 'close', listener: () => void): unknown;
}

/**
 * Saves the state shortly after the user stops moving or resizing, and once more on close.
 * Normal bounds are saved while maximised, so un-maximising next time restores the old size.
 */
export function trackWindowState(win: TrackedWindowLike, save: (state: WindowState) => void, delayMs = 400): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const snapshot = (): WindowState => ({ ...win.getNormalBounds(), maximized: win.isMaximized() });
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    save(snapshot());
  };
  const schedule = (): void => {
    if (win.isMinimized()) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, delayMs);
  };
  for (const event of ['resize', 'move', 'maximize', 'unmaximize'] as const) win.on(event, schedule);
  win.on('close', flush);
  return () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
}
