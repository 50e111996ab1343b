// Composition of the backend services behind the contract. The Electron main process, the
// headless server and the benchmark all build the backend here, so they run the same code.
import path from 'node:path';
import { createAttachmentStore, resolveAttachmentFile, type AttachmentStore, type AttachmentVariant } from '../attachments/attachment-store';
import { ChatService } from '../chat/chat-service';
import { EngineRegistry } from '../engine/engine-registry';
import { HistoryStore } from '../store/history-store';
import type { Engine } from '../engine/engine';
import { contract, type Contract } from '../shared/contract';
import { createDispatcher, type Dispatcher, type Handlers } from '../shared/dispatcher';
import { createBackendHandlers } from './handlers';
import type { ModelManager } from '../models/model-manager';
import { hfTokenFrom } from '../models/hugging-face';
import { createModelManager, type TokenStore } from './model-handlers';
import type { SecretStore } from '../secrets/secret-store';

export interface BackendOptions {
  dataDir: string;
  engine: Engine;
  app: { name: string; version: string };
  /** Chat history database; default <dataDir>/history.sqlite. */
  databasePath?: string;
  /** Model manager; default on <dataDir>/models with the Hugging Face token from the environment. */
  models?: ModelManager;
  /** The desktop app's keychain for the Hugging Face token (models.setToken); absent headless. */
  hfTokenStore?: TokenStore;
  /** The desktop app's keychain for API and remote engine keys; absent headless. */
  secrets?: SecretStore;
}

export interface Backend {
  handlers: Handlers<Contract>;
  dispatcher: Dispatcher;
  history: HistoryStore;
  chat: ChatService;
  attachments: AttachmentStore;
  models: ModelManager;
  /** For the headless server's image route and Electron's protocol: id → file inside the attachments folder. */
  attachmentFile(id: string, variant: AttachmentVariant): Promise<{ path: string; mimeType: string } | null>;
  /** Stops servers and jobs, then closes the database (answers still streaming are marked interrupted on the next start). */
  close(): Promise<void>;
}

export function createBackend({ dataDir, engine, app, databasePath, models: injectedModels, hfTokenStore, secrets }: BackendOptions): Backend {
  // A token saved in the keychain wins over HF_TOKEN; both are read at each download.
  const models =
    injectedModels ?? createModelManager(dataDir, engine, hfTokenStore ? async () => (await hfTokenStore.read().catch(() => null)) ?? hfTokenFrom(undefined) : undefined);
  const attachments = createAttachmentStore(dataDir);
  const history = HistoryStore.open(databasePath ?? path.join(dataDir, 'history.sqlite'));
  const chat = new ChatService({ store: history, engine, attachments, engines: new EngineRegistry({ local: engine, dataDir, secrets }) });
  const cleanups: (() => void | Promise<void>)[] = [];
  // The first pair (import, pull, conversion) answers without a restart or a setActive.
  cleanups.push(
    models.onFirstActive(() => {
      if (engine.status().state !== 'no-model') return;
      void models
        .activePair()
        .then((active) => (active && engine.status().state === 'no-model' ? engine.load(active.paths) : undefined))
        .catch(() => undefined);
    }),
  );
  const offBroken = engine.onPairBroken?.((pair, message) => void models.markBroken(pair, message).catch(() => undefined));
  if (offBroken) cleanups.push(offBroken);
  const handlers = createBackendHandlers({
    engine,
    attachments,
    app,
    history,
    chat,
    models,
    dataDir,
    onClose: (cleanup) => cleanups.push(cleanup),
    hfTokenStore,
    secrets,
  });
  return {
    handlers,
    dispatcher: createDispatcher(contract, handlers),
    history,
    chat,
    attachments,
    models,
    attachmentFile: (id, variant) => resolveAttachmentFile(attachments.dir, id, variant),
    close: async () => {
      await Promise.allSettled(cleanups.map(async (cleanup) => cleanup()));
      const unsaved = chat.dispose();
      if (unsaved > 0) console.error(`firellava: ${unsaved} finished answer(s) could not be saved (disk full or database locked); they read "interrupted" on the next start.`);
      history.close();
    },
  };
}
