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

/** The part of a model download job (contracts/models.ts DownloadJob) the watcher reads. */
export interface DownloadJobLike {
  id: string;
  name: string;
  state: string;
  error: { message: string } | null;
}

/**
 * Turns the model manager's job events into "finished" / "failed" notifications, timing each job
 * from the first event it was seen active in. Each job notifies once per run.
 */
export function createDownloadWatcher(notify: (task: TaskFinished) => boolean, now: () => number = Date.now): (event: { type: string; job?: DownloadJobLike; jobs?: DownloadJobLike[] }) => void {
  const started = new Map<string, number>();
  const active = new Set(['checking', 'downloading', 'verifying']);
  const see = (job: DownloadJobLike): void => {
    if (active.has(job.state)) {
      if (!started.has(job.id)) started.set(job.id, now());
      return;
    }
    const since = started.get(job.id);
    started.delete(job.id);
    if (since === undefined) return; // finished before we watched, or already reported
    if (job.state === 'done') notify({ title: 'Download finished', body: `${job.name} is ready to use.`, durationMs: now() - since });
    else if (job.state === 'error') notify({ title: 'Download failed', body: `${job.name}: ${job.error?.message ?? 'unknown error'}`, durationMs: now() - since });
    // paused or cancelled: the user did that, nothing to tell
  };
  return (event) => {
    if (event.type === 'job' && event.job) see(event.job);
    if (event.type === 'snapshot') for (const job of event.jobs ?? []) see(job);
  };
}
