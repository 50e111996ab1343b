// One app instance: a second launch hands over to the first, which brings its window forward.
export interface FocusableWindowLike {
  isDestroyed(): boolean;
  isMinimized(): boolean;
  isVisible(): boolean;
  restore(): void;
  show(): void;
  focus(): void;
}

export function focusWindow(win: FocusableWindowLike | null): boolean {
  if (!win || win.isDestroyed()) return false;
  if (win.isMinimized()) win.restore();
  if (!win.isVisible()) win.show();
  win.focus();
  return true;
}

export interface SingleInstanceAppLike {
  requestSingleInstanceLock(): boolean;
  on(event: 'second-instance', listener: () => void): unknown;
  quit(): void;
}

/** False when another instance owns the lock; this one then quits and starts nothing. */
export function claimSingleInstance(app: SingleInstanceAppLike, getWindow: () => FocusableWindowLike | null): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => void focusWindow(getWindow()));
  return true;
}
