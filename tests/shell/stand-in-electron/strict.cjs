'use strict';
// Every stand-in object fails loudly on a property it does not implement, so main.ts growing a new
// Electron call makes the boot test fail instead of passing on an undefined.
const LOOKUPS_ALLOWED = new Set(['then', 'toJSON', 'constructor', '__esModule', 'asymmetricMatch', 'nodeType']);

function strict(target, name) {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop === 'symbol' || prop in t || LOOKUPS_ALLOWED.has(prop)) return Reflect.get(t, prop, receiver);
      throw new Error(`stand-in electron: ${name}.${String(prop)} is not implemented (main uses something new: implement it in tests/shell/stand-in-electron)`);
    },
  });
}

/** Throws unless every key of `given` is one the stand-in understands. */
function onlyKeys(given, known, what) {
  for (const k of Object.keys(given ?? {})) if (!known.includes(k)) throw new Error(`stand-in electron: ${what} option ${k} is not implemented`);
}

module.exports = { strict, onlyKeys };
