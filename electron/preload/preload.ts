// Exposes the typed backend client as window.api. The renderer never sees ipcRenderer itself.
import { contextBridge, ipcRenderer } from 'electron';
import type { ContractClient } from '../shared/client';
import { createIpcClient } from '../transport/ipc-client';

const client = createIpcClient(ipcRenderer);

// Plain functions only: contextBridge copies objects and proxies functions and promises.
const api: ContractClient = {
  call: (name, input) => client.call(name, input),
  stream: (name, input, onEvent) => {
    const handle = client.stream(name, input, onEvent);
    return { cancel: () => handle.cancel(), done: handle.done };
  },
};

contextBridge.exposeInMainWorld('api', api);
