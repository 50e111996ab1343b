'use strict';
// What runs inside the Chromium page: the real built preload, given only { ipcRenderer, contextBridge }
// as a sandboxed preload is, with ipcRenderer carried over one Playwright binding that the page
// itself never sees (captured, then deleted from window).

/** Structured-clone-like encoding over JSON: undefined, Uint8Array and Date survive (the contracts send bytes). */
function codec() {
  const TAG = '\u0000t';
  const toB64 = (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const fromB64 = (b64) => {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  };
  const pack = (v) => {
    if (v === undefined) return { [TAG]: 'undefined' };
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'function' || typeof v === 'symbol') throw new Error('An object could not be cloned.');
      return v;
    }
    if (v instanceof Date) return { [TAG]: 'date', v: v.getTime() };
    if (ArrayBuffer.isView(v)) return { [TAG]: 'u8', v: toB64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
    if (v instanceof ArrayBuffer) return { [TAG]: 'u8', v: toB64(new Uint8Array(v)) };
    if (Array.isArray(v)) return v.map(pack);
    const o = {};
    for (const k of Object.keys(v)) o[k] = pack(v[k]);
    return o;
  };
  const unpack = (v) => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(unpack);
    if (v[TAG] === 'undefined') return undefined;
    if (v[TAG] === 'date') return new Date(v.v);
    if (v[TAG] === 'u8') return fromB64(v.v);
    const o = {};
    for (const k of Object.keys(v)) o[k] = unpack(v[k]);
    return o;
  };
  return { encode: (v) => JSON.stringify(pack(v)), decode: (s) => unpack(JSON.parse(s)) };
}

/** Runs in every top-level document of a window, before the page's own scripts. */
function pageBootstrap(cfg, makeCodec, preload) {
  if (window !== window.top) return;
  const bridge = window[cfg.binding];
  delete window[cfg.binding];
  const { encode, decode } = makeCodec();
  const call = async (message) => decode(await bridge(encode(message)));

  // Stored images: <img src="firellava-attachment://…"> goes to the scheme's mapped origin.
  const toPage = (url) => {
    const m = /^([a-z][a-z0-9-]*):\/\/([^/?#]+)(.*)$/.exec(String(url));
    return m && cfg.schemes.includes(m[1]) ? `https://${m[2]}.${m[1]}${cfg.suffix}${m[3]}` : url;
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, 'src');
  Object.defineProperty(HTMLImageElement.prototype, 'src', { ...src, set(v) { src.set.call(this, toPage(v)); } });
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    return setAttribute.call(this, name, this instanceof HTMLImageElement && String(name).toLowerCase() === 'src' ? toPage(value) : value);
  };

  // Permission requests go to main's session handler first (DESIGN.md: CDP cannot intercept them).
  const asked = (permission) => call({ op: 'permission', permission });
  const denied = () => new DOMException('Permission denied', 'NotAllowedError');
  if (window.Notification) {
    const request = Notification.requestPermission.bind(Notification);
    Notification.requestPermission = async () => ((await asked('notifications')) ? request() : 'denied');
  }
  if (navigator.mediaDevices) {
    const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (c) => {
      if (!(await asked('media'))) throw denied();
      return getUserMedia(c);
    };
  }
  if (navigator.clipboard) {
    const writeText = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = async (t) => {
      if (!(await asked('clipboard-sanitized-write'))) throw denied();
      return writeText(t);
    };
  }

  const listeners = new Map();
  const ipcRenderer = {
    async invoke(channel, ...args) {
      const r = await call({ op: 'invoke', channel, args });
      if ('error' in r) throw new Error(r.error);
      return r.value;
    },
    send(channel, ...args) {
      void call({ op: 'send', channel, args });
    },
    on(channel, listener) {
      listeners.set(channel, [...(listeners.get(channel) || []), listener]);
      return ipcRenderer;
    },
  };
  // contextBridge copies values and proxies functions and promises across the worlds.
  const across = (v) => {
    if (typeof v === 'function') return (...args) => across(v(...args.map(across)));
    if (v instanceof Promise) return v.then(across);
    if (v && typeof v === 'object' && !ArrayBuffer.isView(v) && !(v instanceof Date)) {
      const o = Array.isArray(v) ? [] : {};
      for (const k of Object.keys(v)) o[k] = across(v[k]);
      return o;
    }
    return v;
  };
  const contextBridge = {
    exposeInMainWorld(key, api) {
      if (key in window) throw new Error(`Cannot bind an API on top of an existing property on the window object: ${key}`);
      Object.defineProperty(window, key, { value: Object.freeze(across(api)), enumerable: true, writable: false, configurable: false });
      void call({ op: 'exposed', key });
    },
  };
  const sandboxRequire = (id) => {
    if (id === 'electron') return { ipcRenderer, contextBridge };
    throw new Error(`module not found: ${id}`);
  };
  const module = { exports: {} };
  preload(module.exports, sandboxRequire, module, cfg.preloadPath, '.');

  // webContents.send: the page fetches what main sent, one batch per round trip.
  void (async () => {
    for (;;) {
      const batch = await call({ op: 'receive' });
      for (const { channel, args } of batch) for (const l of listeners.get(channel) || []) l({ sender: ipcRenderer }, ...args);
    }
  })();
}

/** The init script for a window: the preload's source is the real built file main pointed at. */
function initScript({ binding, preload, preloadPath, schemes, suffix }) {
  // Inlined, not eval'd: the app's CSP forbids eval, and an init script itself is exempt.
  const wrapped = `function (exports, require, module, __filename, __dirname) {\n${preload}\n}`;
  return `(${pageBootstrap})(${JSON.stringify({ binding, preloadPath, schemes, suffix })}, ${codec}, ${wrapped});`;
}

module.exports = { codec, initScript };
