// Composition of the backend services behind the contract. The Electron main process, the
// headless server and the benchmark all build the backend here, so they run the same code.
import { createAttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import { contract, type Contract } from '../shared/contract';
import { createDispatcher, type Dispatcher, type Handlers } from '../shared/dispatcher';
import { createBackendHandlers } from './handlers';

export interface BackendOptions {
  dataDir: string;
  engine: Engine;
  app: { name: string; version: string };
}

export interface Backend {
  handlers: Handlers<Contract>;
  dispatcher: Dispatcher;
}

export function createBackend({ dataDir, engine, app }: BackendOptions): Backend {
  const handlers = createBackendHandlers({ engine, attachments: createAttachmentStore(dataDir), app });
  return { handlers, dispatcher: createDispatcher(contract, handlers) };
}
