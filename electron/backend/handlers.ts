// The contract implemented once, joined from one handler factory per domain. Used by the
// Electron main process (IPC) and the headless server (HTTP) alike.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import type { Contract } from '../shared/contract';
import type { Handlers } from '../shared/dispatcher';
import { createChatHandlers } from './chat-handlers';
import { createCoreHandlers } from './core-handlers';

export interface BackendDeps {
  engine: Engine;
  attachments: AttachmentStore;
  app: { name: string; version: string };
}

export function createBackendHandlers(deps: BackendDeps): Handlers<Contract> {
  return {
    ...createCoreHandlers(deps),
    ...createChatHandlers(deps),
  };
}
