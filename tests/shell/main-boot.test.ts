// The composition root, executed: the built dist/main/main.cjs and dist/preload/preload.cjs boot
// under the stand-in electron module (tests/shell/stand-in-electron), with each window a real
// Chromium page and the engine worker a real process on the tiny generated model.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractClient } from '../../electron/shared/client';
import { getFixtures, REPO_ROOT, type Fixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt } from '../helpers/serve';
import { bootApp, windowShown, type BootedApp, type BootOptions } from './stand-in-electron/boot-app';

const MAIN = path.join(REPO_ROOT, 'dist', 'main', 'main.cjs');

declare global {
  // What the preload exposes in the page (renderer/src declares the same for the renderer).
  interface Window {
    api: ContractClient;
  }
}

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('main.ts booted under a stand-in Electron', () => {
  let fixtures: Fixtures;
  let tmp: string;
  let options: BootOptions;
  let app: BootedApp;

  beforeAll(async () => {
    ensureBuilt();
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-main-boot-'));
    options = {
      main: MAIN,
      appPath: REPO_ROOT,
      userData: path.join(tmp, 'userData'),
      tmp,
      chromium: CHROMIUM,
      env: { FIRELLAVA_MODEL: fixtures.pair.model, FIRELLAVA_MMPROJ: fixtures.pair.mmproj, FIRELLAVA_NO_UPDATES: '1' },
    };
    app = bootApp(options);
    await windowShown(app);
  }, 120_000);

  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited;
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('opens one sandboxed, context-isolated window on the app scheme, served by main’s protocol handlers', async () => {
    const seen = await app.run(async (s) => ({
      sandboxEnabled: s.sandboxEnabled,
      options: s.windowOptions,
      privileged: s.privileged.map((p) => p.scheme),
      handled: [...s.protocolHandlers.keys()],
      exposed: s.exposed,
      url: s.windows[0]!.pageNow.url(),
      unhandled: s.unhandledLoads,
      dialogs: s.dialogs,
      edit: s.menu?.find((m) => m.label === 'Edit')?.submenu?.map((i) => i.role),
      page: await s.windows[0]!.pageNow.evaluate(() => ({
        title: document.title,
        api: Object.keys(window.api ?? {}),
        leaked: ['require', 'process', 'ipcRenderer', 'contextBridge', 'module', 'Buffer'].filter((k) => k in window),
        bindings: Object.keys(window).filter((k) => /electron|stand/i.test(k)),
      })),
    }));
    expect(seen.sandboxEnabled).toBe(true);
    expect(seen.options).toHaveLength(1);
    expect(seen.options[0]!.webPreferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, preload: path.join(REPO_ROOT, 'dist', 'preload', 'preload.cjs') });
    expect(seen.options[0]!.show).toBe(false); // shown on ready-to-show, which the wait above saw
    expect(seen.options[0]!.backgroundColor).toBe('#ffffff'); // nothing chosen yet: the system's, light here
    expect(seen.privileged).toEqual(['app', 'firellava-attachment']);
    expect(seen.handled.sort()).toEqual(['app', 'firellava-attachment']);
    expect(seen.url).toBe('https://renderer.app.scheme.invalid/index.html'); // app://renderer/index.html, mapped
    expect(seen.unhandled).toEqual([]);
    expect(seen.dialogs).toEqual([]); // no start failure reported
    // The native Edit menu is what makes Ctrl/Cmd+C, V, X, A work in an Electron window.
    expect(seen.edit).toEqual(expect.arrayContaining(['undo', 'redo', 'cut', 'copy', 'paste', 'selectAll']));
    expect(seen.page.title).toBe('FireLLaVA');
    // The preload exposed exactly window.api, and nothing of Node or Electron leaked into the page.
    expect(seen.exposed).toEqual(['api']);
    expect(seen.page.api.sort()).toEqual(['call', 'stream']);
    expect(seen.page.leaked).toEqual([]);
    expect(seen.page.bindings).toEqual([]);
  });

  it('the renderer’s first calls go through the preload over IPC to the backend', async () => {
    const seen = await app.run(async (s) => ({
      log: s.ipcLog.slice(0, 6),
      info: await s.windows[0]!.pageNow.evaluate(() => window.api.call('app.info', {})),
      refused: await s.windows[0]!.pageNow.evaluate(() => window.api.call('no.such.call' as 'app.info', {})),
    }));
    expect(seen.log.length).toBeGreaterThan(0);
    expect(seen.log.every((m) => m.frameUrl === 'app://renderer/index.html')).toBe(true);
    expect(seen.log.map((m) => m.name)).toContain('conversations.list');
    expect(seen.log.find((m) => m.name === 'engine.watch')?.channel).toBe('firellava:stream:start');
    expect(seen.info).toMatchObject({ ok: true, value: { name: 'FireLLaVA Desktop', transport: 'electron' } });
    expect(seen.refused).toMatchObject({ ok: false });
  });

  it('stores a pasted image, streams a chat from the real engine worker, and shows the image through the attachment protocol', async () => {
    const bytes = [...readFileSync(fixtures.images.png32)];
    const seen = await app.run(
      async (s, bytes) => {
        const page = s.windows[0]!.pageNow;
        await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor({ timeout: 60_000 });
        await page.getByLabel('Message', { exact: true }).evaluate((target, bytes) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], 'shot.png', { type: 'image/png' }));
          target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
        }, bytes);
        await page.getByRole('img', { name: 'Attached image shot.png' }).waitFor({ timeout: 10_000 });
        await page.getByLabel('Message', { exact: true }).fill('What is in this picture?');
        await page.getByLabel('Message', { exact: true }).press('Enter');
        const answer = page.locator('article.assistant').first();
        await answer.waitFor({ timeout: 30_000 });
        await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 60_000 });
        const shown = page.locator('article.user').first().getByRole('img').first();
        await shown.evaluate((img: HTMLImageElement) => img.decode());
        return {
          status: await answer.getAttribute('data-status'),
          text: (await answer.locator('.markdown').textContent()) ?? '',
          img: await shown.evaluate((img: HTMLImageElement) => ({ src: img.src, width: img.naturalWidth })),
          workers: s.utility.map((u) => ({ entry: u.entry, serviceName: u.serviceName, alive: u.exit === null })),
          calls: s.ipcLog.map((m) => m.name),
        };
      },
      bytes,
    );
    expect(seen.calls).toContain('attachments.add');
    expect(seen.calls).toContain('messages.send');
    expect(seen.status).toBe('complete');
    expect(seen.text.length).toBeGreaterThan(0);
    // One engine worker, forked from the bundle main points at, still running after the answer.
    expect(seen.workers).toEqual([{ entry: path.join(REPO_ROOT, 'dist', 'engine', 'engine-worker.cjs'), serviceName: 'FireLLaVA engine', alive: true }]);
    // The stored image came back from main's attachment handler (firellava-attachment://image/<sha256>/thumb).
    expect(seen.img.src).toMatch(/^https:\/\/image\.firellava-attachment\.scheme\.invalid\/[a-f0-9]{64}\/thumb$/);
    expect(seen.img.width).toBe(32);
    const stored = readdirSync(path.join(options.userData, 'attachments'), { recursive: true }) as string[];
    expect(stored.some((f) => f.includes(seen.img.src.split('/')[3]!))).toBe(true);
  });

  it('refuses a navigation and a window.open to a foreign URL, handing the link to the browser instead', async () => {
    const seen = await app.run(async (s) => {
      const page = s.windows[0]!.pageNow;
      await page.evaluate(() => void (location.href = 'https://example.com/phish'));
      await page.evaluate(() => void window.open('https://example.com/popup', '_blank'));
      for (let i = 0; i < 100 && (s.navigations.length === 0 || s.windowOpens.length === 0); i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      return {
        navigations: s.navigations,
        windowOpens: s.windowOpens,
        external: s.openedExternally,
        url: page.url(),
        windows: s.windows.length + s.windowOptions.length,
        stillAlive: await page.evaluate(() => typeof window.api.call),
      };
    });
    expect(seen.navigations).toEqual([{ url: 'https://example.com/phish', allowed: false }]);
    expect(seen.windowOpens).toEqual([{ url: 'https://example.com/popup', action: 'deny' }]);
    expect(seen.external).toEqual(['https://example.com/phish', 'https://example.com/popup']);
    expect(seen.url).toBe('https://renderer.app.scheme.invalid/index.html');
    expect(seen.windows).toBe(2); // still the one window, created once
    expect(seen.stillAlive).toBe('function');
  });

  it('denies permission requests except the clipboard write behind "Copy answer"', async () => {
    const seen = await app.run(async (s) => {
      const page = s.windows[0]!.pageNow;
      const results = await page.evaluate(async () => ({
        notifications: await Notification.requestPermission(),
        camera: await navigator.mediaDevices.getUserMedia({ video: true }).then(
          () => 'granted',
          (e: Error) => e.name,
        ),
        clipboard: await navigator.clipboard.writeText('answer').then(
          () => 'written',
          (e: Error) => e.name,
        ),
      }));
      const check = s.permissionHandlers.check as (wc: unknown, permission: string, origin: string) => boolean;
      const device = s.permissionHandlers.device as (details: unknown) => boolean;
      return { results, log: s.permissions, checkMedia: check(null, 'media', 'app://renderer'), device: device({}), downloads: s.downloadListeners };
    });
    expect(seen.results).toEqual({ notifications: 'denied', camera: 'NotAllowedError', clipboard: 'written' });
    expect(seen.log).toEqual([
      { permission: 'notifications', requestingUrl: 'app://renderer/index.html', granted: false },
      { permission: 'media', requestingUrl: 'app://renderer/index.html', granted: false },
      { permission: 'clipboard-sanitized-write', requestingUrl: 'app://renderer/index.html', granted: true },
    ]);
    expect(seen.checkMedia).toBe(false);
    expect(seen.device).toBe(false);
    expect(seen.downloads).toBe(1);
  });

  it('the theme picked in App settings reaches the window frame and is kept for the next launch', async () => {
    const seen = await app.run(async (s) => {
      const page = s.windows[0]!.pageNow;
      await page.getByRole('button', { name: 'App settings' }).click();
      await page.getByRole('dialog', { name: 'App settings' }).getByRole('radio', { name: 'Dark' }).check();
      for (let i = 0; i < 100 && s.themeSource !== 'dark'; i++) await new Promise((r) => setTimeout(r, 100));
      await page.keyboard.press('Escape');
      return { themeSource: s.themeSource, backgrounds: s.windows[0]!.backgroundColors };
    });
    expect(seen).toEqual({ themeSource: 'dark', backgrounds: ['#18181b'] });
    await expect.poll(() => readFileSync(path.join(options.userData, 'window-theme.json'), 'utf8'), { timeout: 5000 }).toBe('{"theme":"dark"}\n');
  });

  it('a second launch hands over to the first, which brings its window forward, and exits', async () => {
    const before = await app.run(async (s) => {
      s.windows[0]!.userMinimize();
      return { focus: s.focusCalls, minimized: s.windows[0]!.isMinimized() };
    });
    expect(before.minimized).toBe(true);
    const second = bootApp({ ...options, args: ['--from-second-launch'] });
    expect(await second.exited, second.output()).toEqual({ code: 0, signal: null });
    // It quit before 'ready': no window, no worker, nothing started.
    expect(second.report()).toEqual({ code: 0, utility: [], appEvents: ['before-quit', 'will-quit', 'quit'] });
    const after = await app.run(async (s) => {
      for (let i = 0; i < 100 && !s.appEvents.includes('second-instance'); i++) await new Promise((r) => setTimeout(r, 100));
      return { focus: s.focusCalls, minimized: s.windows[0]!.isMinimized(), visible: s.windows[0]!.isVisible(), windows: s.windows.length };
    });
    expect(after).toEqual({ focus: before.focus + 1, minimized: false, visible: true, windows: 1 });
  });

  it('closing the window quits: the worker is stopped, the window state saved, and the next launch restores both', async () => {
    const pid = await app.run(async (s) => {
      for (let i = 0; i < 300 && !s.utility[0]?.pid; i++) await new Promise((r) => setTimeout(r, 100));
      await s.windows[0]!.userResize({ x: 100, y: 60, width: 1000, height: 700 });
      s.windows[0]!.close(); // the title bar's close button; sooner than the 400 ms save after a resize
      return s.utility[0]!.pid;
    });
    expect(await app.exited, app.output()).toEqual({ code: 0, signal: null });
    const report = app.report()!;
    expect(report.appEvents).toContain('window-all-closed');
    expect(report.appEvents.at(-1)).toBe('quit');
    expect(report.utility).toMatchObject([{ pid, killedByApp: true }]);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await expect.poll(alive, { timeout: 5000 }).toBe(false);
    const file = path.join(options.userData, 'window-state.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ x: 100, y: 60, width: 1000, height: 700, maximized: false });
    // The backend closed before the exit: SQLite removes its write-ahead log on a clean close only.
    expect(readdirSync(options.userData).filter((f) => f.startsWith('history.sqlite'))).toEqual(['history.sqlite']);

    app = bootApp(options);
    await windowShown(app);
    const again = await app.run(async (s) => ({
      options: s.windowOptions[0],
      themeSource: s.themeSource,
      conversations: await s.windows[0]!.pageNow.evaluate(() => window.api.call('conversations.list', {})),
    }));
    expect(again.options).toMatchObject({ x: 100, y: 60, width: 1000, height: 700, backgroundColor: '#18181b' }); // Dark, chosen above
    expect(again.themeSource).toBe('dark');
    expect(again.conversations).toMatchObject({ ok: true, value: [{ title: expect.any(String) }] });

    // Quit from the menu (role 'quit' calls app.quit) with the window open: same clean end.
    // It waits for the worker first: on a loaded machine the quit could come before it starts.
    await app.run(async (s) => {
      for (let i = 0; i < 300 && !s.utility[0]?.pid; i++) await new Promise((r) => setTimeout(r, 100));
      s.app.quit();
    });
    expect(await app.exited, app.output()).toEqual({ code: 0, signal: null });
    expect(app.report()!.utility).toMatchObject([{ killedByApp: true }]);
    expect(readdirSync(options.userData).filter((f) => f.startsWith('history.sqlite'))).toEqual(['history.sqlite']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ x: 100, y: 60, width: 1000, height: 700, maximized: false });
  });

  it('fails when one line of main’s wiring is gone (negative control: a copy without its IPC registration)', async () => {
    // The copy sits in a dist/ of its own beside the real bundles, inside the checkout so its requires resolve.
    const dist = path.join(REPO_ROOT, '.cache', `main-boot-broken-${process.pid}`, 'dist');
    mkdirSync(path.join(dist, 'main'), { recursive: true });
    for (const dir of ['renderer', 'preload', 'engine']) symlinkSync(path.join(REPO_ROOT, 'dist', dir), path.join(dist, dir));
    const source = readFileSync(MAIN, 'utf8');
    const line = /^\s*registerIpcHandlers\(import_electron\d*\.ipcMain, .*\);$/m;
    expect(source).toMatch(line);
    writeFileSync(path.join(dist, 'main', 'main.cjs'), source.replace(line, ''));
    const broken = bootApp({ ...options, main: path.join(dist, 'main', 'main.cjs'), userData: path.join(tmp, 'broken-userData'), env: {} });
    try {
      await windowShown(broken);
      const seen = await broken.run(async (s) => ({
        handlers: [...s.ipcHandlers.keys()],
        info: await s.windows[0]!.pageNow.evaluate(() => window.api.call('app.info', {})),
      }));
      expect(seen.handlers).toEqual([]);
      expect(seen.info).toMatchObject({ ok: false, error: { message: expect.stringMatching(/No handler registered for 'firellava:call'/) } });
    } finally {
      broken.child.kill('SIGKILL');
      await broken.exited;
      rmSync(path.dirname(dist), { recursive: true, force: true });
    }
  });
});
