'use strict';
// BrowserWindow and its webContents, backed by one real Chromium page each (playwright-core). The
// app's schemes load through main's own protocol handlers (scheme-map.cjs), IPC goes over one
// binding to the real preload (page-bridge.cjs), and navigations, popups and permission requests
// reach the hooks main installed.
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const state = require('./state.cjs');
const { codec, initScript } = require('./page-bridge.cjs');
const { strict, onlyKeys } = require('./strict.cjs');

const { encode, decode } = codec();
const BINDING = '__standInElectronIpc';
const WORK_AREA = { x: 0, y: 0, width: 1920, height: 1040 };
const WINDOW_OPTIONS = ['title', 'x', 'y', 'width', 'height', 'minWidth', 'minHeight', 'show', 'backgroundColor', 'autoHideMenuBar', 'icon', 'webPreferences'];
const WEB_PREFERENCES = [
  'preload', 'contextIsolation', 'sandbox', 'nodeIntegration', 'nodeIntegrationInWorker', 'nodeIntegrationInSubFrames', 'webSecurity',
  'allowRunningInsecureContent', 'experimentalFeatures', 'webviewTag', 'navigateOnDragDrop', 'safeDialogs', 'spellcheck', 'devTools',
];

let browser = null;
const launch = () =>
  (browser ??= chromium.launch({
    executablePath: state.config.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    env: { ...process.env, XDG_CONFIG_HOME: path.join(state.config.tmp, 'xdg'), HOME: path.join(state.config.tmp, 'home') },
  }));

const preventable = (extra = {}) => {
  const event = { ...extra, defaultPrevented: false, preventDefault: () => void (event.defaultPrevented = true) };
  return event;
};

let nextId = 1;

class WebContents extends EventEmitter {
  constructor() {
    super();
    this.id = nextId++;
    this.windowOpenHandler = null;
    this.destroyed = false;
    this.queue = [];
    this.waiter = null;
  }
  setWindowOpenHandler(handler) {
    this.windowOpenHandler = handler;
  }
  send(channel, ...args) {
    if (this.destroyed) throw new Error('Object has been destroyed');
    structuredClone(args); // Electron refuses what cannot be cloned
    this.queue.push({ channel, args });
    this.flush();
  }
  flush() {
    if (!this.waiter || this.queue.length === 0) return;
    const waiter = this.waiter;
    this.waiter = null;
    waiter(this.queue.splice(0));
  }
  isDestroyed() {
    return this.destroyed;
  }
}

class BrowserWindow extends EventEmitter {
  constructor(options = {}) {
    super();
    if (!state.ready) throw new Error('Cannot create BrowserWindow before app is ready');
    onlyKeys(options, WINDOW_OPTIONS, 'BrowserWindow');
    onlyKeys(options.webPreferences, WEB_PREFERENCES, 'webPreferences');
    state.windowOptions.push(structuredClone(options));
    const prefs = options.webPreferences ?? {};
    // The page here has no Node and an isolated preload: a window asking for less isolation is not emulated.
    if (prefs.nodeIntegration || prefs.contextIsolation === false || (prefs.sandbox === false && !state.sandboxEnabled)) {
      throw new Error('stand-in electron: only sandboxed, context-isolated windows without Node integration are implemented');
    }
    const width = options.width ?? 800;
    const height = options.height ?? 600;
    this.bounds = {
      x: options.x ?? Math.round(WORK_AREA.x + (WORK_AREA.width - width) / 2),
      y: options.y ?? Math.round(WORK_AREA.y + (WORK_AREA.height - height) / 2),
      width,
      height,
    };
    this.visible = options.show !== false;
    this.maximized = false;
    this.minimized = false;
    this.focused = false;
    this.destroyed = false;
    this.shown = false;
    this.loadTarget = null;
    this.pageNow = null;
    this.webContents = strict(new WebContents(), 'webContents');
    const self = strict(this, 'BrowserWindow');
    state.windows.push(self);
    state.app.emit('web-contents-created', preventable(), this.webContents);
    this.page = this.open(prefs);
    this.page.catch(() => undefined);
    return self;
  }

  async open(prefs) {
    if (!prefs.preload || !path.isAbsolute(prefs.preload)) throw new Error('stand-in electron: webPreferences.preload must be an absolute path');
    const preload = fs.readFileSync(prefs.preload, 'utf8');
    const context = await (await launch()).newContext({ viewport: { width: this.bounds.width, height: this.bounds.height } });
    await context.route(() => true, (route) => this.route(route).catch((err) => console.error('stand-in route:', err)));
    const page = await context.newPage();
    // A new window's page shows once its refused first navigation has failed; it never stays.
    context.on('page', (popup) => void popup.waitForLoadState('load').then(() => popup.close(), () => undefined));
    await page.exposeBinding(BINDING, (source, text) => this.onBinding(source, decode(text)));
    await page.addInitScript({ content: initScript({ binding: BINDING, preload, preloadPath: prefs.preload, schemes: [...state.schemes.schemes], suffix: '.scheme.invalid' }) });
    this.pageNow = page;
    return page;
  }

  async route(route) {
    const request = route.request();
    const url = request.url();
    const appUrl = state.schemes.fromPage(url);
    let frame = null;
    try {
      frame = request.frame();
    } catch {
      // Playwright has no frame yet for the first navigation of a new window
    }
    if (request.isNavigationRequest() && frame?.page() !== this.pageNow) {
      // A new window (window.open, target=_blank): Electron asks setWindowOpenHandler first.
      const decision = this.webContents.windowOpenHandler ? this.webContents.windowOpenHandler({ url: appUrl, frameName: '', features: '', disposition: 'new-window' }) : { action: 'allow' };
      state.windowOpens.push({ url: appUrl, action: decision.action });
      await route.abort('blockedbyclient');
      if (decision.action !== 'deny') throw new Error('stand-in electron: child windows are not implemented');
      return;
    }
    if (request.isNavigationRequest() && frame === this.pageNow.mainFrame() && url !== this.loadTarget) {
      const event = preventable({ url: appUrl });
      this.webContents.emit('will-navigate', event, appUrl);
      state.navigations.push({ url: appUrl, allowed: !event.defaultPrevented });
      if (event.defaultPrevented) return route.abort('aborted');
    }
    if (appUrl === url) {
      state.blockedRequests.push(url);
      return route.abort('internetdisconnected');
    }
    const scheme = new URL(appUrl).protocol.slice(0, -1);
    const handler = state.protocolHandlers.get(scheme);
    if (!handler) {
      state.unhandledLoads.push(appUrl);
      return route.abort('failed');
    }
    const response = await handler(new Request(appUrl, { method: request.method() }));
    const headers = {};
    response.headers.forEach((value, key) => (headers[key] = key === 'content-security-policy' ? state.schemes.mapCsp(value) : value));
    await route.fulfill({ status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) });
  }

  async onBinding(source, message) {
    const frameUrl = state.schemes.fromPage(source.frame.url());
    const event = { sender: this.webContents, senderFrame: this.destroyed ? null : { url: frameUrl }, processId: 1, frameId: 1 };
    switch (message.op) {
      case 'invoke': {
        const [name] = message.args;
        state.ipcLog.push({ kind: 'invoke', channel: message.channel, name, frameUrl });
        const handler = state.ipcHandlers.get(message.channel);
        if (!handler) return encode({ error: `Error invoking remote method '${message.channel}': Error: No handler registered for '${message.channel}'` });
        try {
          return encode({ value: structuredClone(await handler(event, ...message.args)) });
        } catch (err) {
          return encode({ error: `Error invoking remote method '${message.channel}': ${err}` });
        }
      }
      case 'send':
        state.ipcLog.push({ kind: 'send', channel: message.channel, name: message.args[1], frameUrl });
        state.ipcMain.emit(message.channel, event, ...message.args);
        return encode(null);
      case 'receive':
        return new Promise((resolve) => {
          this.webContents.waiter = (batch) => resolve(encode(batch));
          this.webContents.flush();
        });
      case 'exposed':
        state.exposed.push(message.key);
        return encode(null);
      case 'permission': {
        const handler = state.permissionHandlers.request;
        const granted = handler
          ? await new Promise((resolve) => handler(this.webContents, message.permission, (ok) => resolve(ok === true), { requestingUrl: frameUrl, isMainFrame: true }))
          : true;
        state.permissions.push({ permission: message.permission, requestingUrl: frameUrl, granted });
        if (granted && message.permission.startsWith('clipboard')) await source.page.context().grantPermissions(['clipboard-write', 'clipboard-read'], { origin: new URL(source.frame.url()).origin });
        return encode(granted);
      }
      default:
        throw new Error(`stand-in electron: unknown page message ${message.op}`);
    }
  }

  async loadURL(url) {
    const page = await this.page;
    const target = state.schemes.toPage(url);
    if (!target) throw new Error(`stand-in electron: loadURL of ${url} is not implemented (only schemes registered as standard)`);
    this.loadTarget = target;
    try {
      await page.goto(target, { waitUntil: 'load' });
    } catch (err) {
      throw new Error(`ERR_FAILED (-2) loading '${url}': ${err.message}`);
    } finally {
      this.loadTarget = null;
    }
    if (!this.shown) {
      this.shown = true;
      this.emit('ready-to-show');
    }
  }

  maximize() {
    this.maximized = true;
    this.emit('maximize');
  }
  getNormalBounds() {
    return { ...this.bounds };
  }
  isMaximized() {
    return this.maximized;
  }
  isMinimized() {
    return this.minimized;
  }
  isVisible() {
    return this.visible && !this.minimized;
  }
  isFocused() {
    return this.focused;
  }
  isDestroyed() {
    return this.destroyed;
  }
  restore() {
    this.minimized = false;
    this.emit('restore');
  }
  show() {
    this.visible = true;
    this.focused = true;
  }
  focus() {
    state.focusCalls++;
    this.focused = true;
    this.emit('focus');
  }
  close() {
    void this.tryClose();
  }

  /** Resolves false when a 'close' listener kept the window open. */
  async tryClose() {
    if (this.destroyed) return true;
    const event = preventable();
    this.emit('close', event);
    if (event.defaultPrevented) return false;
    this.destroyed = true;
    await (await this.page.catch(() => null))?.context().close();
    this.webContents.destroyed = true;
    this.webContents.emit('destroyed');
    this.emit('closed');
    const index = state.windows.indexOf(this);
    if (index >= 0) state.windows.splice(index, 1);
    if (!state.quitting && state.windows.length === 0) {
      if (state.app.listenerCount('window-all-closed') > 0) state.app.emit('window-all-closed');
      else state.app.quit();
    }
    return true;
  }

  // What a user does to the window (test hooks, not Electron API).
  async userResize(bounds) {
    Object.assign(this.bounds, bounds);
    await (await this.page).setViewportSize({ width: this.bounds.width, height: this.bounds.height });
    this.emit('resize');
    this.emit('move');
  }
  userMinimize() {
    this.minimized = true;
    this.focused = false;
    this.emit('minimize');
  }
}

module.exports = { BrowserWindow: strict(BrowserWindow, 'BrowserWindow'), WORK_AREA, preventable };
