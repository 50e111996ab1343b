// The contract implemented once, joined from one handler factory per domain. Used by the
// Electron main process (IPC) and the headless server (HTTP) alike, always through createBackend.
import type { Contract } from '../shared/contract';
import type { Handlers } from '../shared/dispatcher';
import type { BackendDeps } from './backend-deps';
import { createApiServerHandlers } from './api-server-handlers';
import { createChatHandlers } from './chat-handlers';
import { createConversationHandlers } from './conversation-handlers';
import { createConversionHandlers } from './conversion-handlers';
import { createCatalogHandlers } from './catalog-handlers';
import { createCoreHandlers } from './core-handlers';
import { createEngineHandlers } from './engine-handlers';
import { createModelHandlers } from './model-handlers';

export type { BackendDeps } from './backend-deps';

export function createBackendHandlers(deps: BackendDeps): Handlers<Contract> {
  return {
    ...createCoreHandlers(deps),
    ...createChatHandlers(deps),
    ...createConversationHandlers(deps),
    ...createModelHandlers(deps),
    ...createApiServerHandlers(deps),
    ...createEngineHandlers(deps),
    ...createConversionHandlers(deps),
    ...createCatalogHandlers(deps),
  };
}
