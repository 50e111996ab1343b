// The built preload (dist/preload/preload.cjs, what Electron loads) run the way a sandboxed preload
// runs: its own scope, `require` limited to 'electron'. It must expose exactly window.api, typed by
// the contract, and its calls must reach the backend only from our own page.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAppUrl } from '../../electron/main/security-policy';
import type { ContractClient } from '../../electron/shared/client';
import { contract } from '../../electron/shared/contract';
import { registerIpcHandlers, type IpcEventLike, type IpcMainLike } from '../../electron/transport/ipc-main';
import { createTestBackend, INVALID_INPUTS, type TestBackend } from '../helpers/test-backend';

const PRELOAD = path.resolve('dist/preload/preload.cjs');

type Listener = (event: any, ...args: any[]) => void;

/** ipcMain and ipcRenderer for one window whose frame URL the test controls. */
function fakeElectron() {
  const handlers = new Map<string, Listener>();
  const mainListeners = new Map<string, Listener[]>();
  const rendererListeners = new Map<string, Listener[]>();
  const state = { frameUrl: 'app://renderer/index.html' };
  const sender = {
    id: 1,
    send: (channel: string, ...args: unknown[]) => queueMicrotask(() => (rendererListeners.get(channel) ?? []).forEach((l) => l({}, ...structuredClone(args)))),
    isDestroyed: () => false,
    once: () => undefined,
  };
  const event = (): IpcEventLike => ({ sender, senderFrame: { url: state.frameUrl } });
  const ipcMain: IpcMainLike = {
    handle: (c, l) => void handlers.set(c, l),
    removeHandler: (c) => void handlers.delete(c),
    on: (c, l) => void mainListeners.set(c, [...(mainListeners.get(c) ?? []), l]),
    removeListener: (c, l) => void mainListeners.set(c, (mainListeners.get(c) ?? []).filter((x) => x !== l)),
  };
  const ipcRenderer = {
    invoke: async (c: string, ...args: unknown[]) => structuredClone(await handlers.get(c)!(event(), ...structuredClone(args))),
    send: (c: string, ...args: unknown[]) => queueMicrotask(() => (mainListeners.get(c) ?? []).forEach((l) => l(event(), ...structuredClone(args)))),
    on: (c: string, l: Listener) => void rendererListeners.set(c, [...(rendererListeners.get(c) ?? []), l]),
  };
  const exposed: Record<string, unknown> = {};
  const contextBridge = {
    exposeInMainWorld: (key: string, value: unknown) => {
      if (key in exposed) throw new Error(`exposed twice: ${key}`);
      exposed[key] = value;
    },
  };
  return { ipcMain, ipcRenderer, contextBridge, exposed, state };
}

/** Runs the bundle like Electron's sandboxed preload: only 'electron' can be required. */
function runPreload(electron: ReturnType<typeof fakeElectron>, code: string): string[] {
  const required: string[] = [];
  const module = { exports: {} };
  const sandboxRequire = (id: string) => {
    required.push(id);
    if (id === 'electron') return { contextBridge: electron.contextBridge, ipcRenderer: electron.ipcRenderer };
    throw new Error(`module not found: ${id} (sandboxed preloads may not load it)`);
  };
  const wrapper = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { filename: PRELOAD });
  wrapper(module.exports, sandboxRequire, module, PRELOAD, path.dirname(PRELOAD));
  return required;
}

describe('preload (built bundle)', () => {
  let code: string;
  let backend: TestBackend | null = null;
  beforeAll(() => {
    code = readFileSync(PRELOAD, 'utf8');
  });
  afterEach(async () => {
    await backend?.cleanup();
    backend = null;
  });

  const setup = () => {
    const electron = fakeElectron();
    backend = createTestBackend();
    registerIpcHandlers(electron.ipcMain, backend.dispatcher, { isAllowedSender: isAppUrl });
    const required = runPreload(electron, code);
    return { electron, required, api: electron.exposed.api as ContractClient };
  };

  it('requires nothing but electron and exposes only window.api with call and stream', () => {
    const { electron, required } = setup();
    expect(required).toEqual(['electron']);
    expect(Object.keys(electron.exposed)).toEqual(['api']);
    const api = electron.exposed.api as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual(['call', 'stream']);
    expect(typeof api.call).toBe('function');
    expect(typeof api.stream).toBe('function');
    // Nothing that could reach Node or the raw IPC object.
    expect(code).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer/);
    expect(JSON.stringify(Object.getOwnPropertyNames(api))).not.toMatch(/ipc|require|process|shell|fs/);
  });

  it('answers contract calls and streams from our page', async () => {
    const { api } = setup();
    expect(await api.call('app.info', {})).toEqual({ ok: true, value: { name: 'FireLLaVA', version: '0.0.0-test', transport: 'electron', notices: [] } });
    const states: string[] = [];
    const handle = api.stream('engine.watch', {}, (s) => states.push(s.state));
    await new Promise((r) => setTimeout(r, 20));
    handle.cancel();
    expect(await handle.done).toEqual({ ok: false, error: { code: 'CANCELLED', message: 'Cancelled' } });
    expect(states).toEqual(['no-model']);
  });

  it('validates every call and stream against the contract before a handler runs', async () => {
    const { api } = setup();
    const names = Object.keys(INVALID_INPUTS);
    expect(names.length).toBeGreaterThan(3);
    for (const name of names) {
      const input = INVALID_INPUTS[name as keyof typeof INVALID_INPUTS] as never;
      const result = contract[name as keyof typeof contract].kind === 'call' ? await api.call(name as 'app.info', input) : await api.stream(name as 'engine.watch', input, () => {}).done;
      expect(!result.ok && result.error.code, name).toBe('INVALID_INPUT');
    }
    expect(backend!.ran.size).toBe(0);
  });

  it('is refused by the main process when the frame is not our app (navigated, look-alike, file:)', async () => {
    const { api, electron } = setup();
    for (const url of ['https://evil.example/', 'app://renderer.evil/index.html', 'file:///tmp/x.html', 'app://other/index.html']) {
      electron.state.frameUrl = url;
      expect(await api.call('app.info', {}), url).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: 'This window may not call the FireLLaVA backend' } });
      const s = await api.stream('engine.watch', {}, () => {}).done;
      expect(!s.ok && s.error.code, url).toBe('FORBIDDEN');
    }
    expect(backend!.ran.size).toBe(0);
  });
});
