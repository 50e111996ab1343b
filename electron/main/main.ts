// Electron composition root: wires Electron's objects to the tested pieces next to this file and to
// the backend. No decisions are made here; they live in security-policy, window-*, app-protocol,
// app-menu, about, notifications and single-instance (tests/shell).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeTheme, Notification, protocol, safeStorage, screen, session, shell } from 'electron';
import { createBackend } from '../backend/backend';
import type { FileDialogs } from '../backend/catalog-handlers';
import { installFaultPolicy } from '../backend/fault-policy';
import { IMAGE_EXTENSIONS } from '../catalog/catalog-files';
import { createFileSecretStore } from '../secrets/secret-store';
import type { Theme } from '../shared/theme';
import { createLocalEngine } from '../engine/engine-host';
import { registerIpcHandlers } from '../transport/ipc-main';
import { aboutDetail, aboutPanelOptions, licensesDir, type AboutInput } from './about';
import { buildMenuTemplate } from './app-menu';
import { createAppProtocolHandler, PRIVILEGED_SCHEMES } from './app-protocol';
import { createDownloadWatcher, createTaskNotifier } from './notifications';
import { APP_ENTRY_URL, APP_SCHEME, ATTACHMENT_SCHEME, isAppUrl } from './security-policy';
import { claimSingleInstance, focusWindow } from './single-instance';
import { spawnUtilityWorker } from './utility-worker';
import { hardenSession, hardenWebContents } from './window-hardening';
import { createMainWindowOptions } from './window-options';
import { readWindowTheme, windowBackground, writeWindowTheme } from './window-theme';
import { readWindowState, restoreWindowState, trackWindowState, writeWindowState } from './window-state';
import { checkForUpdatesInBackground } from './auto-update';

const DIST = path.resolve(__dirname, '..');
const QUIT_GRACE_MS = 10_000;

// Every renderer sandboxed, whatever a future window's options say.
app.enableSandbox();
protocol.registerSchemesAsPrivileged(PRIVILEGED_SCHEMES.map((s) => ({ scheme: s.scheme, privileges: { ...s.privileges } })));

let mainWindow: BrowserWindow | null = null;

// Same policy as `firellava serve`: recoverable errors are logged, a bug says so and quits.
installFaultPolicy({
  name: 'FireLLaVA main process',
  exit: (code, err) => {
    dialog.showErrorBox('FireLLaVA hit an internal error and will close', `${err instanceof Error ? err.message : String(err)}\n\nAnswers being written are kept up to the last save.`);
    app.exit(code);
  },
});

function flag(name: string): string | null {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? null) : null;
}

function engineVersion(): string | null {
  try {
    const pkg = require.resolve('@fugood/llama.node/package.json');
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

async function start(): Promise<void> {
  const dataDir = app.getPath('userData');
  hardenSession(session.defaultSession);

  const engine = createLocalEngine({ spawn: spawnUtilityWorker, workerEntry: path.join(DIST, 'engine', 'engine-worker.cjs'), cacheDir: path.join(dataDir, 'kv-cache') });
  // The Hugging Face token comes from the OS keychain (electron/secrets), else the environment.
  const secrets = createFileSecretStore(path.join(dataDir, 'secrets.json'), safeStorage);
  const hfTokenStore = {
    read: () => secrets.get('hf.token'),
    write: async (token: string | null) => {
      if (token === null) await secrets.delete('hf.token');
      else await secrets.set('hf.token', token);
    },
  };
  // Catalog jobs read only the files picked here and write only the file chosen here.
  const dialogs: FileDialogs = {
    openImages: async (kind) => {
      const options: Electron.OpenDialogOptions =
        kind === 'folder'
          ? { title: 'Folder of product photos', properties: ['openDirectory'] }
          : { title: 'Product photos', properties: ['openFile', 'multiSelections'], filters: [{ name: 'Images', extensions: IMAGE_EXTENSIONS.map((e) => e.slice(1)) }] };
      const r = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
      return r.canceled ? null : r.filePaths;
    },
    saveFile: async (defaultName) => {
      const options: Electron.SaveDialogOptions = { title: 'Export catalog', defaultPath: path.join(app.getPath('documents'), defaultName) };
      const r = mainWindow ? await dialog.showSaveDialog(mainWindow, options) : await dialog.showSaveDialog(options);
      return r.canceled || !r.filePath ? null : r.filePath;
    },
  };
  // The frame takes the theme the renderer last chose (app.setTheme) before the page can say it.
  const themeFile = path.join(dataDir, 'window-theme.json');
  const applyTheme = (theme: Theme): string => {
    nativeTheme.themeSource = theme; // first: then shouldUseDarkColors is the OS's for 'system'
    return windowBackground(theme, nativeTheme.shouldUseDarkColors);
  };
  let theme = await readWindowTheme(themeFile);
  const initialBackground = applyTheme(theme);
  const windowTheme = {
    set: async (next: Theme) => {
      theme = next;
      mainWindow?.setBackgroundColor(applyTheme(next));
      await writeWindowTheme(themeFile, next);
    },
  };
  // 'system' follows the OS switching between light and dark while the app runs.
  nativeTheme.on('updated', () => mainWindow?.setBackgroundColor(windowBackground(theme, nativeTheme.shouldUseDarkColors)));
  const backend = createBackend({ dataDir, engine, hfTokenStore, secrets, dialogs, windowTheme, app: { name: app.getName(), version: app.getVersion() } });
  for (const notice of backend.startupNotices) console.error(`firellava: ${notice}`);
  registerIpcHandlers(ipcMain, backend.dispatcher, { isAllowedSender: isAppUrl });

  const handler = createAppProtocolHandler({
    rendererRoot: path.join(DIST, 'renderer'),
    attachmentsDir: backend.attachments.dir,
    attachmentFile: (id, variant) => backend.attachmentFile(id, variant),
  });
  protocol.handle(APP_SCHEME, handler);
  protocol.handle(ATTACHMENT_SCHEME, handler);

  const about: AboutInput = { appName: app.getName(), appVersion: app.getVersion(), versions: process.versions, engineVersion: engineVersion() };
  app.setAboutPanelOptions(aboutPanelOptions(about));
  const licenses = licensesDir(app.isPackaged, process.resourcesPath, app.getAppPath());
  const showLicenses = (): void => void shell.openPath(licenses);
  const actions = {
    showAbout: () => {
      const options = { type: 'info' as const, title: `About ${about.appName}`, message: about.appName, detail: aboutDetail(about), buttons: ['OK', 'Licenses'], defaultId: 0 };
      const shown = mainWindow ? dialog.showMessageBox(mainWindow, options) : dialog.showMessageBox(options);
      void shown.then(({ response }) => response === 1 && showLicenses());
    },
    showLicenses,
    revealDataFolder: () => void shell.openPath(dataDir),
  };
  Menu.setApplicationMenu(Menu.buildFromTemplate(buildMenuTemplate({ platform: process.platform, appName: about.appName, isPackaged: app.isPackaged, actions })));

  const stateFile = path.join(dataDir, 'window-state.json');
  const state = restoreWindowState(await readWindowState(stateFile), screen.getAllDisplays().map((d) => d.workArea));
  const win = new BrowserWindow(
    createMainWindowOptions({
      preload: path.join(DIST, 'preload', 'preload.cjs'),
      bounds: state,
      platform: process.platform,
      icon: path.join(licenses, '..', 'icons', '512x512.png'),
      devTools: !app.isPackaged,
      backgroundColor: initialBackground,
    }),
  );
  mainWindow = win;
  if (state.maximized) win.maximize();
  let stateSaved: Promise<void> = Promise.resolve();
  trackWindowState(win, (s) => {
    stateSaved = writeWindowState(stateFile, s).catch((err: unknown) => console.error('window state not saved:', err));
  });
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });

  // Model downloads and loads that end while the user is elsewhere.
  const notify = createTaskNotifier({
    isSupported: () => Notification.isSupported(),
    show: (n, onClick) => {
      const notification = new Notification(n);
      notification.on('click', onClick);
      notification.show();
    },
    getWindow: () => mainWindow,
    focusWindow: () => void focusWindow(mainWindow),
  });
  backend.models.onEvent(createDownloadWatcher(notify));
  let loadStarted: number | null = null;
  engine.onStatus((status) => {
    if (status.state === 'loading' && loadStarted === null) loadStarted = Date.now();
    if (status.state === 'ready' && loadStarted !== null) {
      notify({ title: 'Model ready', body: status.message, durationMs: Date.now() - loadStarted });
      loadStarted = null;
    }
    if (status.state !== 'loading' && status.state !== 'ready') loadStarted = null;
  });

  await win.loadURL(APP_ENTRY_URL);

  void checkForUpdatesInBackground(
    { isPackaged: app.isPackaged, resourcesPath: process.resourcesPath, env: process.env },
    async () => (await import('electron-updater')).autoUpdater,
    (message) => console.warn(message),
  );

  const model = flag('model') ?? process.env.FIRELLAVA_MODEL;
  const mmproj = flag('mmproj') ?? process.env.FIRELLAVA_MMPROJ ?? null;
  if (model) void engine.load({ model, mmproj });

  app.on('before-quit', () => void engine.dispose());
  // Electron exits right after will-quit without waiting for promises: hold the quit until the
  // backend closed (final answer saves, a running conversion, the database) and the state is
  // written, but never so long that the app seems unable to quit.
  let closed = false;
  app.on('will-quit', (event) => {
    if (closed) return;
    event.preventDefault();
    const grace = new Promise((resolve) => setTimeout(resolve, QUIT_GRACE_MS).unref());
    void Promise.race([Promise.allSettled([backend.close(), stateSaved]), grace]).then(() => {
      closed = true;
      app.quit();
    });
  });
}

if (claimSingleInstance(app, () => mainWindow)) {
  // Every webContents, this window's and any other, gets the same hardening.
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, { openExternal: (url) => void shell.openExternal(url) }));
  app.on('window-all-closed', () => app.quit());
  app
    .whenReady()
    .then(start)
    .catch((err: unknown) => {
      // A start that fails (even the page load) must say why, never leave a hidden window behind.
      console.error(err);
      dialog.showErrorBox('FireLLaVA could not start', err instanceof Error ? err.message : String(err));
      app.exit(1);
    });
}
