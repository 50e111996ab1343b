import { afterEach, describe, expect, it } from 'vitest';
import type { ContractClient } from '../../electron/shared/client';
import { contract } from '../../electron/shared/contract';
import type { GenerateEvent } from '../../electron/shared/types';
import { createIpcClient, type IpcRendererLike } from '../../electron/transport/ipc-client';
import { registerIpcHandlers, type IpcEventLike, type IpcMainLike, type IpcSenderLike } from '../../electron/transport/ipc-main';
import { makePng } from '../helpers/test-images';
import { createTestBackend, GOOD_GENERATE, INVALID_INPUTS, type TestBackend } from '../helpers/test-backend';

const APP_URL = 'app://renderer/index.html';
type Listener = (event: IpcEventLike, ...args: any[]) => unknown;

/** ipcMain + one webContents + its ipcRenderer, with structured cloning like real IPC. */
class FakeIpc {
  readonly handlers = new Map<string, Listener>();
  readonly listeners = new Map<string, Set<Listener>>();
  private readonly rendererListeners = new Map<string, Set<(event: unknown, ...args: any[]) => void>>();
  private destroyed = false;
  private readonly onDestroyed: (() => void)[] = [];
  frameUrl: string | null = APP_URL;

  readonly sender: IpcSenderLike = {
    id: 7,
    send: (channel, ...args) => {
      const cloned = structuredClone(args);
      queueMicrotask(() => {
        if (this.destroyed) return;
        for (const l of this.rendererListeners.get(channel) ?? []) l({}, ...cloned);
      });
    },
    isDestroyed: () => this.destroyed,
    once: (_event, listener) => this.onDestroyed.push(listener),
  };

  readonly ipcMain: IpcMainLike = {
    handle: (channel, listener) => void this.handlers.set(channel, listener),
    removeHandler: (channel) => void this.handlers.delete(channel),
    on: (channel, listener) => {
      const set = this.listeners.get(channel) ?? new Set();
      set.add(listener);
      this.listeners.set(channel, set);
    },
    removeListener: (channel, listener) => void this.listeners.get(channel)?.delete(listener),
  };

  private event(): IpcEventLike {
    return { sender: this.sender, senderFrame: this.frameUrl === null ? null : { url: this.frameUrl } };
  }

  readonly ipcRenderer: IpcRendererLike = {
    invoke: async (channel, ...args) => {
      const handler = this.handlers.get(channel);
      if (!handler) throw new Error(`No handler registered for '${channel}'`);
      return structuredClone(await handler(this.event(), ...structuredClone(args)));
    },
    send: (channel, ...args) => {
      const cloned = structuredClone(args);
      const event = this.event();
      queueMicrotask(() => {
        for (const l of this.listeners.get(channel) ?? []) l(event, ...cloned);
      });
    },
    on: (channel, listener) => {
      const set = this.rendererListeners.get(channel) ?? new Set();
      set.add(listener);
      this.rendererListeners.set(channel, set);
    },
  };

  destroy(): void {
    this.destroyed = true;
    for (const l of this.onDestroyed.splice(0)) l();
  }
}

describe('Electron IPC transport', () => {
  let backend: TestBackend;
  let ipc: FakeIpc;
  let client: ContractClient;
  let unregister: () => void;

  const setup = (engineOptions = {}): void => {
    backend = createTestBackend(engineOptions);
    ipc = new FakeIpc();
    unregister = registerIpcHandlers(ipc.ipcMain, backend.dispatcher, {
      isAllowedSender: (url) => url === APP_URL || url.startsWith('app://renderer/'),
    });
    client = createIpcClient(ipc.ipcRenderer);
  };
  afterEach(async () => {
    unregister?.();
    await backend?.cleanup();
  });

  it('uses one invoke channel and two message channels, whatever the contract holds', () => {
    setup();
    expect([...ipc.handlers.keys()]).toEqual(['firellava:call']);
    expect([...ipc.listeners.keys()].sort()).toEqual(['firellava:stream:cancel', 'firellava:stream:start']);
  });

  it('answers calls', async () => {
    setup();
    expect(await client.call('app.info', {})).toEqual({ ok: true, value: { name: 'FireLLaVA', version: '0.0.0-test', transport: 'electron', notices: [] } });
    const status = await client.call('engine.status', {});
    expect(status.ok && status.value.state).toBe('no-model');
  });

  it('validates every call and stream against its schema before any handler runs', async () => {
    setup();
    for (const [name, input] of Object.entries(INVALID_INPUTS)) {
      const result =
        contract[name as keyof typeof contract].kind === 'call'
          ? await client.call(name as 'app.info', input as {})
          : await client.stream(name as 'engine.watch', input as {}, () => {}).done;
      expect(result.ok, name).toBe(false);
      if (!result.ok) {
        expect(result.error.code, name).toBe('INVALID_INPUT');
        expect(result.error.message, name).toContain(`Invalid input for ${name}`);
      }
    }
    expect(backend.ran.size).toBe(0);
    const r = await client.stream('chat.generate', INVALID_INPUTS['chat.generate'] as never, () => {}).done;
    expect(!r.ok && r.error.message).toBe('Invalid input for chat.generate: turns: The last turn must be a user message');
  });

  it('refuses unknown names', async () => {
    setup();
    const r = await client.call('nope.nothing' as 'app.info', {});
    expect(r).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'Unknown call "nope.nothing"' } });
    const s = await client.stream('__proto__' as 'engine.watch', {}, () => {}).done;
    expect(!s.ok && s.error.code).toBe('NOT_FOUND');
    const wrongKind = await client.call('chat.generate' as 'app.info', {});
    expect(!wrongKind.ok && wrongKind.error.code).toBe('NOT_FOUND');
  });

  it('refuses foreign senders for calls and streams', async () => {
    setup();
    for (const url of ['https://evil.example/', 'file:///tmp/x.html', 'app://renderer.evil/index.html', null]) {
      ipc.frameUrl = url;
      const call = await client.call('app.info', {});
      expect(call).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: 'This window may not call the FireLLaVA backend' } });
      const events: unknown[] = [];
      const stream = await client.stream('chat.generate', GOOD_GENERATE, (e) => events.push(e)).done;
      expect(!stream.ok && stream.error.code).toBe('FORBIDDEN');
      expect(events).toEqual([]);
    }
    expect(backend.ran.size).toBe(0);
    expect(backend.engine.requests).toEqual([]);
  });

  it('streams events in order and finishes ok', async () => {
    setup();
    const events: GenerateEvent[] = [];
    const done = await client.stream('chat.generate', GOOD_GENERATE, (e) => events.push(e)).done;
    expect(done).toEqual({ ok: true, value: undefined });
    expect(events.map((e) => e.type)).toEqual(['phase', 'delta', 'delta', 'delta', 'delta', 'delta', 'done']);
    const last = events.at(-1);
    expect(last?.type === 'done' && last.text).toBe('Hello from the fake engine.');
    // Defaults were applied by the schema before the handler saw the input.
    expect(backend.engine.requests[0]?.params.maxTokens).toBe(512);
  });

  it('cancel reaches the handler AbortSignal', async () => {
    setup({ delayMs: 200, words: ['a', 'b', 'c', 'd', 'e'] });
    const events: GenerateEvent[] = [];
    const handle = client.stream('chat.generate', GOOD_GENERATE, (e) => events.push(e));
    await new Promise((r) => setTimeout(r, 50));
    const cancelledAt = Date.now();
    handle.cancel();
    expect(await handle.done).toEqual({ ok: false, error: { code: 'CANCELLED', message: 'Cancelled' } });
    await backend.engine.aborted;
    expect(backend.engine.abortedAt! - cancelledAt).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.filter((e) => e.type === 'delta')).toEqual([]);
  });

  it('engine.watch sends the status now and on change, and unsubscribes on cancel', async () => {
    setup();
    const states: string[] = [];
    const handle = client.stream('engine.watch', {}, (s) => states.push(s.state));
    await new Promise((r) => setTimeout(r, 10));
    await backend.engine.load({ model: '/m.gguf', mmproj: null });
    await new Promise((r) => setTimeout(r, 10));
    expect(states).toEqual(['no-model', 'ready']);
    expect(backend.engine.listenerCount).toBe(1);
    handle.cancel();
    await new Promise((r) => setTimeout(r, 10));
    expect(backend.engine.listenerCount).toBe(0);
  });

  it('a destroyed webContents aborts its streams', async () => {
    setup();
    client.stream('engine.watch', {}, () => {});
    await new Promise((r) => setTimeout(r, 10));
    expect(backend.engine.listenerCount).toBe(1);
    ipc.destroy();
    await new Promise((r) => setTimeout(r, 10));
    expect(backend.engine.listenerCount).toBe(0);
  });

  it('carries bytes for attachments.add and maps thrown errors to Results without stacks', async () => {
    setup();
    const png = new Uint8Array(makePng(28, 28, 3));
    const added = await client.call('attachments.add', { name: 'p.png', mimeType: 'image/jpeg', data: png });
    expect(added.ok && added.value).toMatchObject({ mimeType: 'image/png', width: 28, height: 28 });
    const bad = await client.call('attachments.add', { data: new Uint8Array([1, 2, 3]) });
    expect(bad).toEqual({ ok: false, error: { code: 'IMAGE_INVALID', message: expect.stringMatching(/not a supported image/) } });
    const missing = await client.stream('chat.generate', { conversationId: 'c', turns: [{ role: 'user', text: 'x', attachmentIds: ['c'.repeat(64)] }] }, () => {}).done;
    expect(!missing.ok && missing.error.code).toBe('NOT_FOUND');
    expect(JSON.stringify(missing)).not.toMatch(/\bat .*\(/);
  });

  it('turns an unexpected exception into INTERNAL with its message only', async () => {
    backend = createTestBackend({}, {
      'engine.status': async () => {
        throw new TypeError('boom');
      },
    });
    ipc = new FakeIpc();
    unregister = registerIpcHandlers(ipc.ipcMain, backend.dispatcher, { isAllowedSender: () => true });
    client = createIpcClient(ipc.ipcRenderer);
    expect(await client.call('engine.status', {})).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'boom' } });
  });

  it('unregister removes the channels', () => {
    setup();
    unregister();
    expect(ipc.handlers.size).toBe(0);
    expect([...ipc.listeners.values()].every((s) => s.size === 0)).toBe(true);
  });
});
