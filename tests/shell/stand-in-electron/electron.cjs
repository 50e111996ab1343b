'use strict';
// A stand-in for the `electron` module, for booting the built dist/main/main.cjs in plain Node
// (the Electron binary cannot be downloaded here). It implements only what main.ts and the preload
// use; anything else throws (strict.cjs). Windows are real Chromium pages (browser-window.cjs).
const { EventEmitter } = require('node:events');
const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const state = require('./state.cjs');
const { BrowserWindow, WORK_AREA, preventable } = require('./browser-window.cjs');
const { strict, onlyKeys } = require('./strict.cjs');

const { config } = state;
const pkg = JSON.parse(fs.readFileSync(path.join(config.appPath, 'package.json'), 'utf8'));
const afterReady = (what) => {
  if (!state.ready) throw new Error(`stand-in electron: ${what} cannot be used before the app is ready`);
};

// ---- app -----------------------------------------------------------------------------------
let markReady;
const readyPromise = new Promise((resolve) => (markReady = resolve));

/** Where the stand-in writes what it saw at exit; the process is gone before the test can ask. */
function exit(code) {
  const report = { code, utility: state.utility.map(({ child: _c, ...u }) => ({ ...u, aliveAtExit: u.exit === null })), appEvents: state.appEvents };
  if (config.reportFile) fs.writeFileSync(config.reportFile, JSON.stringify(report));
  for (const u of state.utility) if (u.exit === null) u.child.kill('SIGKILL'); // Electron ends its utility processes
  process.exit(code);
}

class App extends EventEmitter {
  constructor() {
    super();
    this.isPackaged = config.isPackaged === true;
  }
  emit(name, ...args) {
    state.appEvents.push(name);
    return super.emit(name, ...args);
  }
  enableSandbox() {
    if (state.ready) throw new Error('app.enableSandbox() can only be called before app is ready');
    state.sandboxEnabled = true;
  }
  getPath(name) {
    if (name !== 'userData') throw new Error(`stand-in electron: app.getPath('${name}') is not implemented`);
    return config.userData;
  }
  getName() {
    return pkg.productName ?? pkg.name;
  }
  getVersion() {
    return pkg.version;
  }
  getAppPath() {
    return config.appPath;
  }
  setAboutPanelOptions(options) {
    state.aboutPanel = options;
  }
  whenReady() {
    return readyPromise;
  }
  isReady() {
    return state.ready;
  }
  /** A pid file stands in for Electron's socket; a second instance drops its argv for the first. */
  requestSingleInstanceLock() {
    const lock = path.join(config.userData, 'stand-in-single-instance.lock');
    const drop = path.join(config.userData, 'stand-in-second-instance');
    fs.mkdirSync(drop, { recursive: true });
    let owner = null;
    try {
      owner = Number(fs.readFileSync(lock, 'utf8'));
      process.kill(owner, 0);
    } catch {
      owner = null;
    }
    if (owner !== null && owner !== process.pid) {
      fs.writeFileSync(path.join(drop, `${process.pid}.json`), JSON.stringify({ argv: process.argv, cwd: process.cwd() }));
      return false;
    }
    fs.writeFileSync(lock, String(process.pid));
    setInterval(() => {
      for (const file of fs.readdirSync(drop)) {
        const { argv, cwd } = JSON.parse(fs.readFileSync(path.join(drop, file), 'utf8'));
        fs.rmSync(path.join(drop, file));
        this.emit('second-instance', preventable(), argv, cwd, null);
      }
    }, 100).unref();
    return true;
  }
  quit() {
    if (state.quitting) return;
    state.quitting = true;
    setImmediate(() => void this.quitInOrder());
  }
  /** Electron's order: before-quit, each window's close, will-quit, quit, exit; any preventDefault cancels. */
  async quitInOrder() {
    const cancel = () => void (state.quitting = false);
    if (preventedBy(this, 'before-quit')) return cancel();
    for (const win of [...state.windows]) if (!(await win.tryClose())) return cancel();
    if (preventedBy(this, 'will-quit')) return cancel();
    this.emit('quit', preventable(), 0);
    exit(0);
  }
  exit(code = 0) {
    exit(code);
  }
  /** Called by boot.cjs once main's first synchronous run is over, as Electron does. */
  becomeReady() {
    state.ready = true;
    this.emit('will-finish-launching');
    this.emit('ready', preventable(), {});
    markReady();
  }
}
const preventedBy = (emitter, name) => {
  const event = preventable();
  emitter.emit(name, event);
  return event.defaultPrevented;
};

const app = strict(new App(), 'app');
state.app = app;

// ---- ipcMain, protocol, session -------------------------------------------------------------
class IpcMain extends EventEmitter {
  handle(channel, handler) {
    if (state.ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    state.ipcHandlers.set(channel, handler);
  }
  removeHandler(channel) {
    state.ipcHandlers.delete(channel);
  }
}
const ipcMain = strict(new IpcMain(), 'ipcMain');
state.ipcMain = ipcMain;

const PRIVILEGES = ['standard', 'secure', 'bypassCSP', 'allowServiceWorkers', 'supportFetchAPI', 'corsEnabled', 'stream', 'codeCache'];
const protocol = strict(
  {
    registerSchemesAsPrivileged(schemes) {
      if (state.ready) throw new Error('protocol.registerSchemesAsPrivileged should be called before app is ready');
      for (const { scheme, privileges } of schemes) {
        onlyKeys(privileges, PRIVILEGES, 'privileges');
        state.privileged.push({ scheme, privileges: { ...privileges } });
        if (privileges?.standard) state.schemes.register(scheme);
      }
    },
    handle(scheme, handler) {
      afterReady('protocol.handle');
      if (state.protocolHandlers.has(scheme)) throw new Error(`Failed to register protocol: ${scheme}`);
      state.protocolHandlers.set(scheme, handler);
    },
  },
  'protocol',
);

class Session extends EventEmitter {
  setPermissionRequestHandler(handler) {
    state.permissionHandlers.request = handler;
  }
  setPermissionCheckHandler(handler) {
    state.permissionHandlers.check = handler;
  }
  setDevicePermissionHandler(handler) {
    state.permissionHandlers.device = handler;
  }
  on(name, listener) {
    if (name !== 'will-download') throw new Error(`stand-in electron: session event ${name} is not implemented`);
    state.downloadListeners++;
    return super.on(name, listener);
  }
}
const defaultSession = strict(new Session(), 'session.defaultSession');
const session = strict(
  {
    get defaultSession() {
      afterReady('session');
      return defaultSession;
    },
  },
  'session',
);

// ---- utilityProcess: child_process.fork of the same entry -------------------------------------
const PARENT_PORT = path.join(__dirname, 'parent-port.cjs');
const utilityProcess = strict(
  {
    fork(entry, args = [], options = {}) {
      afterReady('utilityProcess');
      onlyKeys(options, ['stdio', 'serviceName', 'env', 'cwd', 'execArgv'], 'utilityProcess.fork');
      const child = childProcess.fork(entry, args, {
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: options.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced', // Electron's postMessage is structured clone
        execArgv: ['--require', PARENT_PORT, ...(options.execArgv ?? [])],
      });
      const record = { entry, pid: child.pid, serviceName: options.serviceName, killedByApp: false, exit: null, child };
      state.utility.push(record);
      const up = new EventEmitter();
      Object.assign(up, {
        pid: child.pid,
        stdout: child.stdout,
        stderr: child.stderr,
        postMessage: (message) => void child.send(message),
        kill: () => {
          record.killedByApp = true;
          return child.kill();
        },
      });
      child.on('spawn', () => up.emit('spawn'));
      child.on('message', (message) => up.emit('message', message));
      child.on('exit', (code, signal) => {
        record.exit = { code, signal };
        up.emit('exit', code ?? 1);
      });
      return strict(up, 'UtilityProcess');
    },
  },
  'utilityProcess',
);

// ---- the rest: keychain, menus, dialogs, shell, notifications, screen -------------------------
const KEY = crypto.randomBytes(32);
const safeStorage = strict(
  {
    isEncryptionAvailable: () => state.ready,
    getSelectedStorageBackend: () => 'gnome_libsecret',
    encryptString(text) {
      afterReady('safeStorage');
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', KEY, iv);
      const data = Buffer.concat([cipher.update(String(text), 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), data]);
    },
    decryptString(buffer) {
      afterReady('safeStorage');
      const decipher = crypto.createDecipheriv('aes-256-gcm', KEY, buffer.subarray(0, 12));
      decipher.setAuthTag(buffer.subarray(12, 28));
      return Buffer.concat([decipher.update(buffer.subarray(28)), decipher.final()]).toString('utf8');
    },
  },
  'safeStorage',
);

const checkMenu = (items) => {
  for (const item of items) {
    onlyKeys(item, ['id', 'label', 'role', 'type', 'submenu', 'click', 'accelerator'], 'MenuItem');
    if (!item.role && !item.label && item.type !== 'separator') throw new Error('stand-in electron: a menu item needs a role, a label or type separator');
    if (Array.isArray(item.submenu)) checkMenu(item.submenu);
  }
};
const Menu = strict(
  {
    buildFromTemplate(template) {
      checkMenu(template);
      return strict({ template }, 'Menu');
    },
    setApplicationMenu(menu) {
      state.menu = menu?.template ?? null;
    },
  },
  'Menu',
);

const dialog = strict(
  {
    showMessageBox: async (...args) => {
      state.dialogs.push({ kind: 'messageBox', options: args.at(-1) });
      return { response: 0, checkboxChecked: false };
    },
    showErrorBox: (title, content) => {
      state.dialogs.push({ kind: 'errorBox', title, content });
      console.error(`[stand-in electron] error box: ${title}: ${content}`);
    },
  },
  'dialog',
);

const shell = strict(
  {
    openPath: async (p) => {
      state.openedPaths.push(p);
      return ''; // no error
    },
    openExternal: async (url) => void state.openedExternally.push(url),
  },
  'shell',
);

class Notification extends EventEmitter {
  static isSupported() {
    return true;
  }
  constructor(options) {
    super();
    this.options = options;
    return strict(this, 'Notification');
  }
  show() {
    state.notifications.push(this.options);
  }
}

const screen = strict(
  {
    getAllDisplays() {
      afterReady('screen');
      return [{ id: 1, bounds: { x: 0, y: 0, width: 1920, height: 1080 }, workArea: { ...WORK_AREA }, scaleFactor: 1, rotation: 0, internal: false }];
    },
  },
  'screen',
);

module.exports = strict(
  { app, BrowserWindow, ipcMain, protocol, session, utilityProcess, safeStorage, Menu, dialog, shell, Notification: strict(Notification, 'Notification'), screen },
  'electron',
);
