// OS notifications for long tasks (model download, conversion) that finish while the user is not
// looking at the window. Nothing is shown when the window is visible and focused: the UI says it.
export interface NotificationWindowLike {
  isDestroyed(): boolean;
  isVisible(): boolean;
  isMinimized(): boolean;
  isFocused(): boolean;
}

export interface TaskFinished {
  title: string;
  body: string;
  /** Short tasks never notify, even in the background. */
  durationMs: number;
}

export interface NotifierDeps {
  isSupported(): boolean;
  show(notification: { title: string; body: string; silent: boolean }, onClick: () => void): void;
  getWindow(): NotificationWindowLike | null;
  focusWindow(): void;
}

export const MIN_NOTIFY_DURATION_MS = 10_000;

export function userIsAway(win: NotificationWindowLike | null): boolean {
  return !win || win.isDestroyed() || !win.isVisible() || win.isMinimized() || !win.isFocused();
}

/** Returns whether a notification was shown. */
export function createTaskNotifier(deps: NotifierDeps): (task: TaskFinished) => boolean {
  return (task) => {
    if (task.durationMs < MIN_NOTIFY_DURATION_MS || !userIsAway(deps.getWindow()) || !deps.isSupported()) return false;
    deps.show({ title: task.title.slice(0, 120), body: task.body.slice(0, 400), silent: false }, () => deps.focusWindow());
    return true;
  };
}
