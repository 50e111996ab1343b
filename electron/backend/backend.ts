// Composition of the backend services behind the contract. The Electron main process, the
// headless server and the benchmark all build the backend here, so they run the same code.
import path from 'node:path';
import { createAttachmentStore, resolveAttachmentFile, type AttachmentStore, type AttachmentVariant } from '../attachments/attachment-store';
import { ChatService } from '../chat/chat-service';
import { EngineRegistry } from '../engine/engine-registry';
import { getKvCacheCap } from '../store/app-settings';
import { HistoryStore } from '../store/history-store';
import { ensurePrivateDir, makeTreePrivate } from '../store/private-files';
import type { Recovery } from '../store/recover-database';
import type { Engine } from '../engine/engine';
import { contract, type Contract } from '../shared/contract';
import { createDispatcher, type Dispatcher, type Handlers } from '../shared/dispatcher';
import { createBackendHandlers } from './handlers';
import type { ModelManager } from '../models/model-manager';
import { hfTokenFrom } from '../models/hugging-face';
import { createModelManager, type TokenStore } from './model-handlers';
import type { SecretStore } from '../secrets/secret-store';
import type { FileDialogs } from './catalog-handlers';
import type { WindowTheme } from './core-handlers';

export interface BackendOptions {
  dataDir: string;
  engine: Engine;
  app: { name: string; version: string };
  /** Chat history database; default <dataDir>/history.sqlite. */
  databasePath?: string;
  /** Model manager; default on <dataDir>/models with the Hugging Face token from the environment. */
  models?: ModelManager;
  /** Image store; default on <dataDir>/attachments (a test gives one whose disk is full). */
  attachments?: AttachmentStore;
  /** The desktop app's keychain for the Hugging Face token (models.setToken); absent headless. */
  hfTokenStore?: TokenStore;
  /** The desktop app's keychain for API and remote engine keys; absent headless. */
  secrets?: SecretStore;
  /** The desktop app's open/save dialogs for catalog jobs; absent headless. */
  dialogs?: FileDialogs;
  /** The desktop window's frame colours (app.setTheme); absent headless. */
  windowTheme?: WindowTheme;
}

export interface Backend {
  handlers: Handlers<Contract>;
  dispatcher: Dispatcher;
  history: HistoryStore;
  /** What the user must be told since the start (serve prints them; the window shows app.info's). */
  startupNotices: readonly string[];
  chat: ChatService;
  attachments: AttachmentStore;
  models: ModelManager;
  /** For the headless server's image route and Electron's protocol: id → file inside the attachments folder. */
  attachmentFile(id: string, variant: AttachmentVariant): Promise<{ path: string; mimeType: string } | null>;
  /** Stops servers and jobs, then closes the database (answers still streaming are marked interrupted on the next start). */
  close(): Promise<void>;
}

/** What the app keeps in its data folder (with backups, damaged copies and temp files beside them). */
const APP_ENTRIES = /^\.?(history\.sqlite|attachments|models|checkpoints|exports|engines\.json|api-server\.json|secrets\.json|window-state\.json|window-theme\.json)(\W|$)/;

export function createBackend({ dataDir, engine, app, databasePath, models: injectedModels, attachments: injectedAttachments, hfTokenStore, secrets, dialogs, windowTheme }: BackendOptions): Backend {
  // A token saved in the keychain wins over HF_TOKEN; both are read at each download.
  const models =
    injectedModels ?? createModelManager(dataDir, engine, hfTokenStore ? async () => (await hfTokenStore.read().catch(() => null)) ?? hfTokenFrom(undefined) : undefined);
  // Chats, images and keys are the owner's only (a shared GPU box is the headless use case).
  ensurePrivateDir(dataDir);
  makeTreePrivate(dataDir, (name) => APP_ENTRIES.test(name));
  const attachments = injectedAttachments ?? createAttachmentStore(dataDir);
  const history = HistoryStore.open(databasePath ?? path.join(dataDir, 'history.sqlite'));
  const startupNotices = history.recovery ? [recoveryNotice(history.recovery)] : [];
  // The user's cache cap (App settings): set before anything loads a model, which uses it.
  const savedCap = getKvCacheCap(history.db);
  if (savedCap !== null) void engine.setCacheCap?.(savedCap).catch(() => undefined);
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
    startupNotices,
    onClose: (cleanup) => cleanups.push(cleanup),
    hfTokenStore,
    secrets,
    dialogs,
    windowTheme,
  });
  return {
    handlers,
    dispatcher: createDispatcher(contract, handlers),
    history,
    startupNotices,
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

export function recoveryNotice(r: Recovery): string {
  const kept = `The damaged file was kept unchanged as ${r.asidePath}`;
  return r.readable
    ? `Your chat history was damaged (${r.reason}). ${r.conversations} conversation(s) and ${r.messages} message(s) could be read and were restored; some may be missing. ${kept}.`
    : `Your chat history was damaged (${r.reason}) and nothing in it could be read, so a new, empty history was started. ${kept}.`;
}
