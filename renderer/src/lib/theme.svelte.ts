// The in-app light / dark / system choice. Kept in localStorage (not the backend) because it must be
// known before the first paint: renderer/public/theme-init.js applies it from <head>, this store
// applies a change at once. Both write <html data-theme>, which theme.css turns into color-scheme.
// Main is told too (app.setTheme): it paints the window frame and keeps the choice for the next launch.
import type { ContractClient } from '../../../electron/shared/client';
import { isTheme, THEMES, type Theme } from '../../../electron/shared/theme';

export { THEMES, type Theme };
/** Also read by renderer/public/theme-init.js (a plain script that cannot import this). */
export const THEME_KEY = 'firellava.theme';

function stored(): Theme {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return isTheme(value) ? value : 'system';
  } catch {
    return 'system'; // storage disabled: follow the system
  }
}

/** At start: a choice made before main kept its own copy reaches it (the default needs no call). */
export function shareStoredTheme(client: ContractClient): void {
  const theme = stored();
  if (theme !== 'system') void client.call('app.setTheme', { theme });
}

export class ThemeChoice {
  value = $state<Theme>(stored());

  constructor(private readonly client: ContractClient) {}

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
    // The page already shows it; only the frame would lag, so a failure is not worth a message.
    void this.client.call('app.setTheme', { theme });
  }
}
