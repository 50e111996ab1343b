// The contract implemented once, joined from one handler factory per domain. Used by the
// Electron main process (IPC) and the headless server (HTTP) alike.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import type { Contract } from '../shared/contract';
import type { Handlers } from '../shared/dispatcher';
import { createChatHandlers } from './chat-handlers';
import { createCoreHandlers } from './core-handlers';
import { ChatService } from '../chat/chat-service';
import { HistoryStore } from '../store/history-store';
import { createConversationHandlers } from './conversation-handlers';
import type { ModelManager } from '../models/model-manager';
import { createModelHandlers, type TokenStore } from './model-handlers';
import type { SecretStore } from '../secrets/secret-store';
import { createApiServerHandlers } from './api-server-handlers';
import { createEngineHandlers } from './engine-handlers';
import { createConversionHandlers } from './conversion-handlers';
import { createCatalogHandlers, type FileDialogs } from './catalog-handlers';

export interface BackendDeps {
  engine: Engine;
  attachments: AttachmentStore;
  app: { name: string; version: string };
  /** Chat history; an in-memory one when absent (transport tests). */
  history?: HistoryStore;
  chat?: ChatService;
  /** Model manager on <dataDir>/models; a throwaway folder when absent (transport tests). */
  models?: ModelManager;
  /** The desktop app's keychain for the Hugging Face token; absent headless. */
  hfTokenStore?: TokenStore;
  /** The app's data folder; absent in transport tests. */
  dataDir?: string;
  /** The desktop app's keychain (API key, remote engine keys); absent headless. */
  secrets?: SecretStore;
  /** Told once at start (app.info): a damaged history set aside, and the like. */
  startupNotices?: readonly string[];
  /** The desktop app's open/save dialogs (catalog picks and exports); absent headless. */
  dialogs?: FileDialogs;
  /** Registers cleanup run by Backend.close() (servers, jobs). */
  onClose?: (cleanup: () => void | Promise<void>) => void;
}

export function createBackendHandlers(deps: BackendDeps): Handlers<Contract> {
  return {
    ...createCoreHandlers(deps),
    ...createChatHandlers(deps),
    ...conversationHandlers(deps),
    ...createModelHandlers(deps),
    ...createApiServerHandlers(deps),
    ...createEngineHandlers(deps),
    ...createConversionHandlers(deps),
    ...createCatalogHandlers(deps),
  };
}

function conversationHandlers(deps: BackendDeps): ReturnType<typeof createConversationHandlers> {
  const history = deps.history ?? HistoryStore.open(':memory:');
  const chat = deps.chat ?? new ChatService({ store: history, engine: deps.engine, attachments: deps.attachments });
  return createConversationHandlers({ history, chat, attachments: deps.attachments });
}
