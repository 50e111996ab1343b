// What every handler factory may use: the services createBackend composes. All are required,
// so no handler builds a stand-in of its own; the keychains alone are absent headless.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { ChatService } from '../chat/chat-service';
import type { Engine } from '../engine/engine';
import type { ModelManager } from '../models/model-manager';
import type { SecretStore } from '../secrets/secret-store';
import type { HistoryStore } from '../store/history-store';
import type { FileDialogs } from './catalog-handlers';
import type { TokenStore } from './model-handlers';

export interface BackendDeps {
  engine: Engine;
  attachments: AttachmentStore;
  app: { name: string; version: string };
  history: HistoryStore;
  chat: ChatService;
  models: ModelManager;
  /** The app's data folder. */
  dataDir: string;
  /** Registers cleanup run by Backend.close() (servers, jobs). */
  onClose: (cleanup: () => void | Promise<void>) => void;
  /** The desktop app's keychain for the Hugging Face token; absent headless. */
  hfTokenStore?: TokenStore | undefined;
  /** The desktop app's keychain (API key, remote engine keys); absent headless. */
  secrets?: SecretStore | undefined;
  /** Told once at start (app.info): a damaged history set aside, and the like. */
  startupNotices: readonly string[];
  /** The desktop app's open/save dialogs (catalog picks and exports); absent headless. */
  dialogs?: FileDialogs | undefined;
}
