// Electron composition root: window, custom protocol, IPC derived from the contract, engine in a
// utilityProcess. Backend services are imported from their domains, never written here.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, ipcMain, net, protocol } from 'electron';
import { createBackend } from '../backend/backend';
import { createLocalEngine } from '../engine/engine-host';
import { resolveStaticPath, CONTENT_SECURITY_POLICY } from '../server/static-files';
import { registerIpcHandlers } from '../transport/ipc-main';
import { spawnUtilityWorker } from './utility-worker';
import { APP_ORIGIN, hardenWindow, secureWebPreferences } from './window';

const DIST = path.resolve(__dirname, '..');
const RENDERER_ROOT = path.join(DIST, 'renderer');

protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

function flag(name: string): string | null {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? null) : null;
}

async function start(): Promise<void> {
  const dataDir = app.getPath('userData');
  const engine = createLocalEngine({ spawn: spawnUtilityWorker, workerEntry: path.join(DIST, 'engine', 'engine-worker.cjs') });
  const backend = createBackend({ dataDir, engine, app: { name: app.getName(), version: app.getVersion() } });
  registerIpcHandlers(ipcMain, backend.dispatcher, {
    isAllowedSender: (url) => url === APP_ORIGIN || url.startsWith(`${APP_ORIGIN}/`),
  });

  protocol.handle('app', async (request) => {
    const url = new URL(request.url);
    const file = url.host === 'renderer' ? resolveStaticPath(RENDERER_ROOT, url.pathname) : null;
    if (!file) return new Response('Not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    return new Response(response.body, { status: response.status, headers });
  });

  const win = new BrowserWindow({
    width: 1200,
    height: 820,
    title: 'FireLLaVA',
    webPreferences: secureWebPreferences(path.join(DIST, 'preload', 'preload.cjs')),
  });
  hardenWindow(win);
  await win.loadURL(`${APP_ORIGIN}/index.html`);

  const model = flag('model') ?? process.env.FIRELLAVA_MODEL;
  const mmproj = flag('mmproj') ?? process.env.FIRELLAVA_MMPROJ ?? null;
  if (model) void engine.load({ model, mmproj });

  app.on('before-quit', () => void engine.dispose());
}

app.on('window-all-closed', () => app.quit());
app.whenReady().then(start, (err: unknown) => {
  console.error(err);
  app.exit(1);
});
