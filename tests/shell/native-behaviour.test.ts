import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it } from 'vitest';
import { aboutDetail, aboutPanelOptions, LICENSE_FILES, licensesDir } from '../../electron/main/about';
import { buildMenuTemplate, type MenuActions } from '../../electron/main/app-menu';
import { createDownloadWatcher, createTaskNotifier, type NotificationWindowLike } from '../../electron/main/notifications';
import { claimSingleInstance, focusWindow, type FocusableWindowLike } from '../../electron/main/single-instance';

function menuFor(platform: NodeJS.Platform, isPackaged = true) {
  const calls: string[] = [];
  const actions: MenuActions = {
    showAbout: () => calls.push('about'),
    showLicenses: () => calls.push('licenses'),
    revealDataFolder: () => calls.push('reveal'),
  };
  return { template: buildMenuTemplate({ platform, appName: 'FireLLaVA Desktop', isPackaged, actions }), calls };
}
const sub = (item: MenuItemConstructorOptions | undefined) => (item?.submenu ?? []) as MenuItemConstructorOptions[];
const roles = (item: MenuItemConstructorOptions | undefined) => sub(item).map((i) => i.role).filter(Boolean);
const find = (t: MenuItemConstructorOptions[], label: string) => t.find((i) => i.label === label);
const findId = (t: MenuItemConstructorOptions[], id: string): MenuItemConstructorOptions | undefined =>
  t.flatMap((i) => [i, ...sub(i)]).find((i) => i.id === id);

describe('application menu', () => {
  it('has an Edit menu with cut/copy/paste/select-all roles on every platform (Cmd+V needs them)', () => {
    for (const platform of ['darwin', 'win32', 'linux'] as const) {
      expect(roles(find(menuFor(platform).template, 'Edit')), platform).toEqual(expect.arrayContaining(['undo', 'redo', 'cut', 'copy', 'paste', 'selectAll']));
    }
  });

  it('has View zoom roles; reload and DevTools only when not packaged', () => {
    const packaged = roles(find(menuFor('linux', true).template, 'View'));
    expect(packaged).toEqual(['resetZoom', 'zoomIn', 'zoomOut', 'togglefullscreen']);
    expect(roles(find(menuFor('linux', false).template, 'View'))).toEqual(expect.arrayContaining(['reload', 'toggleDevTools', 'zoomIn']));
  });

  it('starts with the app menu on macOS (About, reveal data folder, hide, quit)', () => {
    const { template, calls } = menuFor('darwin');
    expect(template[0]?.label).toBe('FireLLaVA Desktop');
    expect(roles(template[0])).toEqual(expect.arrayContaining(['services', 'hide', 'hideOthers', 'unhide', 'quit']));
    expect(sub(template[0]).map((i) => i.id).filter(Boolean)).toEqual(['about', 'reveal-data']);
    findId(template, 'about')!.click!({} as never, undefined, {} as never);
    findId(template, 'reveal-data')!.click!({} as never, undefined, {} as never);
    findId(template, 'licenses')!.click!({} as never, undefined, {} as never);
    expect(calls).toEqual(['about', 'reveal', 'licenses']);
  });

  it('puts About in Help and the data folder in File on Windows and Linux', () => {
    for (const platform of ['win32', 'linux'] as const) {
      const { template } = menuFor(platform);
      expect(template[0]?.label, platform).toBe('File');
      expect(sub(template[0]).some((i) => i.id === 'reveal-data'), platform).toBe(true);
      expect(sub(template.find((i) => i.role === 'help')).map((i) => i.id), platform).toEqual(['about', 'licenses']);
    }
    expect(findId(menuFor('win32').template, 'reveal-data')?.label).toBe('Show Data Folder in Explorer');
  });
});

describe('About and licenses', () => {
  const input = { appName: 'FireLLaVA Desktop', appVersion: '0.1.0', versions: { electron: '45.5.0', chrome: '142.0.0.0', node: '22.20.0', v8: '14.2' }, engineVersion: '1.7.15' };

  it('lists the app, runtime and engine versions and the Llama 2 attribution', () => {
    const text = aboutDetail(input);
    for (const s of ['Version 0.1.0', 'Electron 45.5.0', 'Chromium 142.0.0.0', 'Node.js 22.20.0', 'llama.node (llama.cpp) 1.7.15', 'Llama 2 Community License']) expect(text).toContain(s);
    expect(aboutDetail({ ...input, engineVersion: null })).not.toContain('llama.node');
    expect(aboutPanelOptions(input)).toMatchObject({ applicationName: 'FireLLaVA Desktop', applicationVersion: '0.1.0', version: 'Electron 45.5.0' });
  });

  it('ships the model license notice and third-party notices', () => {
    const dir = licensesDir(false, '/unused', process.cwd());
    expect(licensesDir(true, '/Applications/X.app/Contents/Resources', '/unused')).toBe(path.join('/Applications/X.app/Contents/Resources', 'licenses'));
    const notice = readFileSync(path.join(dir, LICENSE_FILES.model), 'utf8');
    expect(notice).toContain('Llama 2 Community License');
    expect(notice).toContain('https://ai.meta.com/llama/license/');
    expect(notice).toContain('Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. All Rights Reserved.');
    expect(existsSync(path.join(dir, LICENSE_FILES.thirdParty))).toBe(true);
  });
});

describe('notifications for long tasks', () => {
  const window = (over: Partial<Record<keyof NotificationWindowLike, boolean>>): NotificationWindowLike => ({
    isDestroyed: () => over.isDestroyed ?? false,
    isVisible: () => over.isVisible ?? true,
    isMinimized: () => over.isMinimized ?? false,
    isFocused: () => over.isFocused ?? true,
  });

  const setup = (win: NotificationWindowLike | null, supported = true) => {
    const shown: { title: string; body: string }[] = [];
    let focused = 0;
    let click: (() => void) | null = null;
    const notify = createTaskNotifier({
      isSupported: () => supported,
      show: (n, onClick) => {
        shown.push({ title: n.title, body: n.body });
        click = onClick;
      },
      getWindow: () => win,
      focusWindow: () => focused++,
    });
    return { notify, shown, clickIt: () => click?.(), focused: () => focused };
  };
  const task = { title: 'Download finished', body: 'FireLLaVA-13B Q4_K_M is ready', durationMs: 60_000 };

  it('notifies when the window is hidden, minimised or unfocused, and a click focuses it', () => {
    for (const w of [window({ isVisible: false }), window({ isMinimized: true }), window({ isFocused: false }), null]) {
      const s = setup(w);
      expect(s.notify(task)).toBe(true);
      expect(s.shown).toEqual([{ title: 'Download finished', body: 'FireLLaVA-13B Q4_K_M is ready' }]);
      s.clickIt();
      expect(s.focused()).toBe(1);
    }
  });

  it('stays quiet while the user is looking, for short tasks, and where the OS has no notifications', () => {
    expect(setup(window({})).notify(task)).toBe(false);
    expect(setup(window({ isVisible: false })).notify({ ...task, durationMs: 2_000 })).toBe(false);
    expect(setup(window({ isVisible: false }), false).notify(task)).toBe(false);
  });
});

describe('single instance', () => {
  const fakeWindow = (state: { minimized: boolean; visible: boolean }) => {
    const calls: string[] = [];
    const win: FocusableWindowLike = {
      isDestroyed: () => false,
      isMinimized: () => state.minimized,
      isVisible: () => state.visible,
      restore: () => calls.push('restore'),
      show: () => calls.push('show'),
      focus: () => calls.push('focus'),
    };
    return { win, calls };
  };

  it('a second launch restores, shows and focuses the existing window', () => {
    let secondInstance: (() => void) | null = null;
    const { win, calls } = fakeWindow({ minimized: true, visible: false });
    const app = { requestSingleInstanceLock: () => true, on: (_e: 'second-instance', l: () => void) => void (secondInstance = l), quit: () => calls.push('quit') };
    expect(claimSingleInstance(app, () => win)).toBe(true);
    expect(calls).toEqual([]);
    secondInstance!();
    expect(calls).toEqual(['restore', 'show', 'focus']);
  });

  it('the second instance quits without starting anything', () => {
    const calls: string[] = [];
    const app = { requestSingleInstanceLock: () => false, on: () => calls.push('on'), quit: () => calls.push('quit') };
    expect(claimSingleInstance(app, () => null)).toBe(false);
    expect(calls).toEqual(['quit']);
  });

  it('focusing works before the window exists and after it closed', () => {
    expect(focusWindow(null)).toBe(false);
    const { win, calls } = fakeWindow({ minimized: false, visible: true });
    expect(focusWindow(win)).toBe(true);
    expect(calls).toEqual(['focus']);
    expect(focusWindow({ ...win, isDestroyed: () => true })).toBe(false);
  });
});

describe('download notifications', () => {
  const job = (state: string, error: string | null = null) => ({ id: 'firellava-13b-q4', name: 'FireLLaVA-13B Q4_K_M', state, error: error ? { message: error } : null });

  it('notifies once when a watched download finishes or fails, with its duration', () => {
    let t = 0;
    const tasks: { title: string; body: string; durationMs: number }[] = [];
    const watch = createDownloadWatcher((task) => (tasks.push(task), true), () => t);
    watch({ type: 'snapshot', jobs: [job('checking')] });
    t = 5_000;
    watch({ type: 'job', job: job('downloading') });
    t = 90_000;
    watch({ type: 'job', job: job('verifying') });
    t = 95_000;
    watch({ type: 'job', job: job('done') });
    watch({ type: 'job', job: job('done') }); // repeated terminal events notify once
    expect(tasks).toEqual([{ title: 'Download finished', body: 'FireLLaVA-13B Q4_K_M is ready to use.', durationMs: 95_000 }]);
    watch({ type: 'job', job: job('downloading') });
    t = 100_000;
    watch({ type: 'job', job: job('error', 'Not enough disk space') });
    expect(tasks.at(-1)).toEqual({ title: 'Download failed', body: 'FireLLaVA-13B Q4_K_M: Not enough disk space', durationMs: 5_000 });
  });

  it('stays quiet for pauses, cancels, jobs already finished before watching, and other events', () => {
    const tasks: unknown[] = [];
    const watch = createDownloadWatcher((task) => (tasks.push(task), true), () => 0);
    watch({ type: 'snapshot', jobs: [job('done')] });
    watch({ type: 'installed' });
    watch({ type: 'job', job: job('downloading') });
    watch({ type: 'job', job: job('paused') });
    watch({ type: 'job', job: job('downloading') });
    watch({ type: 'job', job: job('cancelled') });
    expect(tasks).toEqual([]);
  });
});
