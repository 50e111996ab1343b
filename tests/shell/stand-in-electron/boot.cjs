'use strict';
// Boots a built main.cjs in plain Node with require('electron') resolved to the stand-in, then
// lets the test look inside: each 'run' message carries a function (as source) that gets the
// stand-in's state and answers over the IPC channel.
const Module = require('node:module');
const path = require('node:path');

const STAND_IN = path.join(__dirname, 'electron.cjs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'electron' ? STAND_IN : resolve.call(this, request, ...rest);
};

const state = require('./state.cjs');
const { app } = require('./electron.cjs');
const { config } = state;

process.on('message', async ({ id, fn, arg }) => {
  try {
    const value = await (0, eval)(`(${fn})`)(state, arg);
    process.send({ id, ok: true, value });
  } catch (err) {
    process.send({ id, ok: false, error: err instanceof Error ? err.stack : String(err) });
  }
});

// Electron defines these for the main process.
process.resourcesPath = config.resourcesPath;
process.type = 'browser';
process.argv = [process.execPath, config.main, ...(config.args ?? [])];

require(config.main);
setImmediate(() => app.becomeReady());
