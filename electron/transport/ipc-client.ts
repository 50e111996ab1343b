// Preload side of the IPC transport: a ContractClient over ipcRenderer. Runs in the sandboxed
// preload, so no Node imports here.
import type { ContractClient, StreamHandle } from '../shared/client';
import type { ContractShape } from '../shared/contract-kit';
import type { Contract } from '../shared/contract';
import { CANCELLED_ERROR } from '../shared/dispatcher';
import { toAppError, type Result } from '../shared/errors';
import { IPC_CALL, IPC_STREAM_CANCEL, IPC_STREAM_END, IPC_STREAM_EVENT, IPC_STREAM_START, isStreamId } from './ipc-channels';

export interface IpcRendererLike {
  invoke(channel: string, ...args: any[]): Promise<any>;
  send(channel: string, ...args: any[]): void;
  on(channel: string, listener: (event: any, ...args: any[]) => void): unknown;
}

interface OpenStream {
  onEvent(event: unknown): void;
  finish(result: Result<void>): void;
}

export function createIpcClient<C extends ContractShape = Contract>(ipcRenderer: IpcRendererLike): ContractClient<C> {
  const open = new Map<number, OpenStream>();
  let nextId = 1;

  ipcRenderer.on(IPC_STREAM_EVENT, (_event, id: unknown, payload: unknown) => {
    if (isStreamId(id)) open.get(id)?.onEvent(payload);
  });
  ipcRenderer.on(IPC_STREAM_END, (_event, id: unknown, result: Result<void>) => {
    if (isStreamId(id)) open.get(id)?.finish(result);
  });

  return {
    async call(name, input) {
      try {
        return await ipcRenderer.invoke(IPC_CALL, name, input);
      } catch (err) {
        return { ok: false, error: toAppError(err) };
      }
    },

    stream(name, input, onEvent): StreamHandle {
      const id = nextId++;
      let resolveDone!: (result: Result<void>) => void;
      const done = new Promise<Result<void>>((resolve) => (resolveDone = resolve));
      const finish = (result: Result<void>): void => {
        if (open.delete(id)) resolveDone(result);
      };
      open.set(id, {
        onEvent: (payload) => onEvent(payload as Parameters<typeof onEvent>[0]),
        finish,
      });
      ipcRenderer.send(IPC_STREAM_START, id, name, input);
      return {
        cancel() {
          if (!open.has(id)) return;
          ipcRenderer.send(IPC_STREAM_CANCEL, id);
          finish({ ok: false, error: CANCELLED_ERROR });
        },
        done,
      };
    },
  };
}
