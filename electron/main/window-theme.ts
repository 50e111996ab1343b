// The window frame follows the app's theme: nativeTheme.themeSource and the background painted
// before the page (and behind it while resizing). Kept in window-theme.json so the next launch
// opens with the right background instead of flashing the other one.
import { promises as fs } from 'node:fs';
import { isTheme, type Theme } from '../shared/theme';
import { writePrivateFile } from '../store/private-files';

/** renderer/src/theme.css's --bg of each scheme (tests/shell/window-theme.test.ts holds them equal). */
export const WINDOW_BACKGROUND = { light: '#ffffff', dark: '#18181b' } as const;

/**
 * The frame's colour for a theme; systemDark: whether the OS is in dark mode (only 'system' asks).
 * nativeTheme.themeSource takes the theme itself: Electron has the same three values.
 */
export function windowBackground(theme: Theme, systemDark: boolean): string {
  const dark = theme === 'dark' || (theme === 'system' && systemDark);
  return dark ? WINDOW_BACKGROUND.dark : WINDOW_BACKGROUND.light;
}

/** The saved theme; 'system' when missing or unreadable (a corrupt file only costs the choice). */
export async function readWindowTheme(file: string): Promise<Theme> {
  try {
    const stored = (JSON.parse(await fs.readFile(file, 'utf8')) as { theme?: unknown } | null)?.theme;
    return isTheme(stored) ? stored : 'system';
  } catch {
    return 'system';
  }
}

export async function writeWindowTheme(file: string, theme: Theme): Promise<void> {
  await writePrivateFile(file, `${JSON.stringify({ theme })}\n`);
}
