// The app's light / dark / system choice, shared by the renderer (which applies it to the page) and
// main (which applies it to the window frame). No zod here: the renderer imports this unbundled.
export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];

export function isTheme(value: unknown): value is Theme {
  return (THEMES as readonly unknown[]).includes(value);
}
