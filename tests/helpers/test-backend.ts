// The real backend (createBackend, as the app and the server build it) on a FakeEngine and a
// temp data folder, with a count of how often each handler actually ran (to prove invalid input
// never reaches one).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AttachmentStore } from '../../electron/attachments/attachment-store';
import { createBackend, type Backend } from '../../electron/backend/backend';
import { contract, type Contract } from '../../electron/shared/contract';
import { createDispatcher, type Dispatcher, type Handlers } from '../../electron/shared/dispatcher';
import { FakeEngine, type FakeEngineOptions } from './fake-engine';

export interface TestBackend {
  engine: FakeEngine;
  attachments: AttachmentStore;
  backend: Backend;
  handlers: Handlers<Contract>;
  dispatcher: Dispatcher;
  ran: Map<string, number>;
  dataDir: string;
  /** Closes the backend, then removes its data folder. */
  cleanup(): Promise<void>;
}

export function createTestBackend(engineOptions: FakeEngineOptions = {}, override: Partial<Handlers<Contract>> = {}): TestBackend {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'firellava-backend-'));
  const engine = new FakeEngine(engineOptions);
  const backend = createBackend({ dataDir, engine, app: { name: 'FireLLaVA', version: '0.0.0-test' } });
  const real = { ...backend.handlers, ...override };
  const ran = new Map<string, number>();
  const counted = Object.fromEntries(
    Object.entries(real).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        ran.set(name, (ran.get(name) ?? 0) + 1);
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as Handlers<Contract>;
  return {
    engine,
    attachments: backend.attachments,
    backend,
    handlers: counted,
    dispatcher: createDispatcher(contract, counted),
    ran,
    dataDir,
    cleanup: async () => {
      await backend.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One wrong input per contract entry, each rejected by its schema. */
export const INVALID_INPUTS: Record<keyof Contract, unknown> = {
  'app.info': { extra: 1 },
  'app.setTheme': { theme: 'blue' },
  'engine.status': 'not an object',
  'engine.watch': { follow: true },
  'engine.clearCache': { all: true },
  'engine.setCacheCap': { bytes: 1000 },
  'attachments.add': { name: 'x.png', data: 'not bytes' },
  'chat.generate': { conversationId: 'c1', turns: [{ role: 'assistant', text: 'hi' }] },
  'conversations.list': { limit: 0 },
  'conversations.create': { title: 7 },
  'conversations.get': { id: '../etc' },
  'conversations.rename': { id: 'c1', title: '   ' },
  'conversations.settings': { id: 'c1', params: { temperature: 5 } },
  'conversations.delete': {},
  'conversations.restore': { id: '' },
  'conversations.emptyTrash': { now: true },
  'conversations.search': { query: '' },
  'messages.switchVersion': { messageId: -1 },
  'messages.send': { text: '   ' },
  'messages.regenerate': { messageId: 'x' },
  'messages.continue': { messageId: 0 },
  'messages.edit': { messageId: 1.5, text: 'x' },
  'messages.stop': { conversationId: 'a b' },
  'engines.list': { all: true },
  'engines.addRemote': { name: 'Fireworks', baseUrl: 'file:///etc/passwd', model: 'm', key: 'k' },
  'engines.updateRemote': { id: 'local', name: 'x' },
  'engines.removeRemote': { id: '../x' },
  'engines.test': { key: 'only-a-key' },
  'engines.setDefault': { id: 'Remote One' },
  'presets.list': { all: true },
  'conversations.export': { id: 'c1', format: 'pdf' },
  'conversations.import': { data: 'not bytes' },
  'presets.save': { name: '', system: '' },
  'presets.delete': { id: 'builtin-general' },
  'presets.getDefault': { extra: 1 },
  'presets.setDefault': { id: 5 },
  'models.catalog': { nCtx: 1 },
  'models.list': { extra: true },
  'models.pull': { modelUrl: 'file:///etc/passwd', mmprojUrl: 'http://x/y.gguf' },
  'models.pause': { id: '../x' },
  'models.resume': {},
  'models.cancel': { id: 'A B' },
  'models.import': { modelPath: '', mmprojPath: 'x' },
  'models.delete': { id: 5 },
  'models.setActive': { id: '' },
  'models.commandLine': { all: true },
  'models.watch': { all: true },
  'models.tokenStatus': { token: 'x' },
  'models.setToken': { token: 'has spaces in it' },
  'apiServer.status': { key: true },
  'apiServer.configure': { port: 80 },
  'apiServer.rotateKey': { key: 'mine' },
  'apiServer.revealKey': 'all',
  'convert.plan': { repo: 'no-slash' },
  'convert.start': { quant: 'Q4 0' },
  'convert.cancel': { now: true },
  'convert.discard': { revision: '../x' },
  'convert.watch': { all: 1 },
  'catalog.templates': { id: 'shopify' },
  'catalog.pick': { kind: 'drive' },
  'catalog.create': { template: 'shopify', items: [{ name: 'a.png', attachmentId: 'abc' }] },
  'catalog.list': [],
  'catalog.items': { jobId: '../x' },
  'catalog.updateItem': { itemId: 1, field: 'price', value: 'x' },
  'catalog.approve': { itemIds: [] },
  'catalog.regenerate': { itemId: 0 },
  'catalog.pause': {},
  'catalog.resume': { jobId: 'A B' },
  'catalog.cancel': { jobId: 7 },
  'catalog.delete': { jobId: '' },
  'catalog.export': { jobId: 'j1', format: 'xlsx' },
  'catalog.watch': { jobId: 'j1' },
};

export const GOOD_GENERATE = {
  conversationId: 'c1',
  turns: [{ role: 'user' as const, text: 'What is in the picture?' }],
};
