// The in-app light / dark / system choice. Kept in localStorage (not the backend) because it must be
// known before the first paint: renderer/public/theme-init.js applies it from <head>, this store
// applies a change at once. Both write <html data-theme>, which theme.css turns into color-scheme.
export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];
/** Also read by renderer/public/theme-init.js (a plain script that cannot import this). */
export const THEME_KEY = 'firellava.theme';

function isTheme(value: unknown): value is Theme {
  return (THEMES as readonly unknown[]).includes(value);
}

function stored(): Theme {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return isTheme(value) ? value : 'system';
  } catch {
    return 'system'; // storage disabled: follow the system
  }
}

export class ThemeChoice {
  value = $state<Theme>(stored());

  set(theme: Theme): void {
    this.value = theme;
    try {
      if (theme === 'system') localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, theme);
    } catch {
      // not remembered, but still applied below
    }
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
  }
}
