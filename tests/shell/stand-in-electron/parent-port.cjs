'use strict';
// Preloaded (--require) into a utilityProcess stand-in: Electron gives the child process.parentPort,
// so the worker takes the same branch it takes in the app, not its child_process.fork one.
const { EventEmitter } = require('node:events');

const parentPort = new EventEmitter();
parentPort.postMessage = (message) => void process.send(message);
process.on('message', (message) => parentPort.emit('message', { data: message }));
process.parentPort = parentPort;
