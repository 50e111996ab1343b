'use strict';
// What the stand-in recorded of main's calls, shared by electron.cjs, browser-window.cjs and the
// boot script (which hands it to the test). Not part of the electron module main sees.
const { createSchemeMap } = require('./scheme-map.cjs');

/** Set by the test through the environment: { main, userData, appPath, isPackaged, resourcesPath, args, chromium, tmp, reportFile }. */
const config = JSON.parse(process.env.STAND_IN_ELECTRON ?? 'null');
if (!config) throw new Error('stand-in electron: STAND_IN_ELECTRON is not set (boot through tests/shell/stand-in-electron/boot.cjs)');

const state = {
  config,
  schemes: createSchemeMap(),
  ready: false,
  quitting: false,
  sandboxEnabled: false,
  /** protocol.registerSchemesAsPrivileged input, as given. */
  privileged: [],
  /** scheme -> the handler main passed to protocol.handle. */
  protocolHandlers: new Map(),
  ipcHandlers: new Map(),
  /** Every message that reached ipcMain from a page: { kind, channel, name, frameUrl }. */
  ipcLog: [],
  /** Keys the preload passed to contextBridge.exposeInMainWorld. */
  exposed: [],
  windows: [],
  /** Each BrowserWindow's constructor options, as given. */
  windowOptions: [],
  permissionHandlers: { request: null, check: null, device: null },
  downloadListeners: 0,
  permissions: [],
  navigations: [],
  windowOpens: [],
  /** Requests to no mapped origin: aborted, nothing outside the app is reachable. */
  blockedRequests: [],
  /** App-scheme loads that no handler answered. */
  unhandledLoads: [],
  openedExternally: [],
  openedPaths: [],
  dialogs: [],
  notifications: [],
  menu: null,
  aboutPanel: null,
  appEvents: [],
  /** utilityProcess.fork calls: { entry, pid, serviceName, killedByApp, exit }. */
  utility: [],
  focusCalls: 0,
};

module.exports = state;
