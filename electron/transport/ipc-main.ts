// Main-process side of the IPC transport. Structural types so tests can pass fakes and
// Electron's ipcMain fits without adapters.
import type { Dispatcher, RequestContext } from '../shared/dispatcher';
import { fail, type Result } from '../shared/errors';
import { IPC_CALL, IPC_STREAM_CANCEL, IPC_STREAM_END, IPC_STREAM_EVENT, IPC_STREAM_START, isStreamId } from './ipc-channels';

export interface IpcSenderLike {
  readonly id: number;
  send(channel: string, ...args: any[]): void;
  isDestroyed(): boolean;
  once(event: 'destroyed', listener: () => void): unknown;
}

export interface IpcEventLike {
  readonly sender: IpcSenderLike;
  /** Null when the frame navigated away or was destroyed. */
  readonly senderFrame: { readonly url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: any[]) => unknown): void;
  removeHandler(channel: string): void;
  on(channel: string, listener: (event: IpcEventLike, ...args: any[]) => void): unknown;
  removeListener(channel: string, listener: (...args: any[]) => void): unknown;
}

export interface IpcHandlerOptions {
  /** True only for our own renderer's URL; every message from any other frame is refused. */
  isAllowedSender(frameUrl: string): boolean;
}

const FORBIDDEN = fail('FORBIDDEN', 'This window may not call the FireLLaVA backend');

/** Registers the IPC channels; returns a function that removes them and aborts open streams. */
export function registerIpcHandlers(
  ipcMain: IpcMainLike,
  dispatcher: Dispatcher<RequestContext>,
  options: IpcHandlerOptions,
): () => void {
  const ctx: RequestContext = { transport: 'electron' };
  const streams = new Map<string, AbortController>();
  const watchedSenders = new Set<number>();

  const allowed = (event: IpcEventLike): boolean => {
    const url = event.senderFrame?.url;
    if (typeof url !== 'string') return false;
    try {
      return options.isAllowedSender(url);
    } catch {
      return false;
    }
  };

  const sendTo = (sender: IpcSenderLike, channel: string, ...args: unknown[]): void => {
    if (!sender.isDestroyed()) sender.send(channel, ...args);
  };

  const abortAllOf = (senderId: number): void => {
    const prefix = `${senderId}:`;
    for (const [key, controller] of streams) {
      if (key.startsWith(prefix)) {
        controller.abort();
        streams.delete(key);
      }
    }
  };

  ipcMain.handle(IPC_CALL, async (event, name: unknown, input: unknown): Promise<Result<unknown>> => {
    if (!allowed(event)) return FORBIDDEN;
    return dispatcher.call(String(name), input, ctx);
  });

  const onStart = (event: IpcEventLike, id: unknown, name: unknown, input: unknown): void => {
    if (!isStreamId(id)) return;
    const sender = event.sender;
    if (!allowed(event)) {
      sendTo(sender, IPC_STREAM_END, id, FORBIDDEN);
      return;
    }
    const key = `${sender.id}:${id}`;
    streams.get(key)?.abort(); // a reused id replaces the old stream
    const controller = new AbortController();
    streams.set(key, controller);
    if (!watchedSenders.has(sender.id)) {
      watchedSenders.add(sender.id);
      sender.once('destroyed', () => {
        watchedSenders.delete(sender.id);
        abortAllOf(sender.id);
      });
    }
    void dispatcher
      .stream(String(name), input, {
        emit: (ev) => sendTo(sender, IPC_STREAM_EVENT, id, ev),
        signal: controller.signal,
        ctx,
      })
      .then((result) => {
        if (streams.get(key) !== controller) return;
        streams.delete(key);
        sendTo(sender, IPC_STREAM_END, id, result);
      });
  };

  const onCancel = (event: IpcEventLike, id: unknown): void => {
    if (!isStreamId(id) || !allowed(event)) return;
    const key = `${event.sender.id}:${id}`;
    const controller = streams.get(key);
    if (!controller) return;
    streams.delete(key);
    controller.abort();
  };

  ipcMain.on(IPC_STREAM_START, onStart);
  ipcMain.on(IPC_STREAM_CANCEL, onCancel);

  return () => {
    ipcMain.removeHandler(IPC_CALL);
    ipcMain.removeListener(IPC_STREAM_START, onStart);
    ipcMain.removeListener(IPC_STREAM_CANCEL, onCancel);
    for (const controller of streams.values()) controller.abort();
    streams.clear();
  };
}
