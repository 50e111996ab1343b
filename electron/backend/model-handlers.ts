// Model manager calls: catalog, installed pairs, downloads, imports and the active pair.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../engine/engine';
import { hfTokenFrom } from '../models/hugging-face';
import { ModelManager, ModelManagerError } from '../models/model-manager';
import type { CommandLineModel, FitDevice, HfTokenStatus, ModelsEvent, modelsContract } from '../shared/contracts/models';
import type { Handlers } from '../shared/dispatcher';
import { AppErrorException } from '../shared/errors';
import { watchUntilAborted } from './watch';

/** The device the engine runs on once a model is loaded; before that, what its device probe finds. */
export async function engineDevices(engine: Engine): Promise<FitDevice[] | null> {
  const d = engine.status().device;
  if (d) return [{ name: d.name, backend: d.backend, memoryBytes: d.memoryBytes }];
  const gpus = (await engine.probeDevices?.()) ?? null;
  if (gpus === null) return null;
  return [...gpus.map((g) => ({ name: g.name, backend: g.backend, memoryBytes: g.memoryBytes })), { name: 'CPU', backend: 'cpu', memoryBytes: null }];
}

/** The engine's pair when no installed pair is it (links resolved): it came from --model. */
export async function commandLineModel(engine: Engine, models: ModelManager): Promise<CommandLineModel | null> {
  const s = engine.status();
  if (!s.model || s.state === 'no-model') return null;
  const real = (p: string): Promise<string> => realpath(p).catch(() => path.resolve(p));
  const installed = new Set(await Promise.all((await models.list()).flatMap((m) => m.files.map((f) => real(f.path)))));
  if (installed.has(await real(s.model.path))) return null;
  const files: CommandLineModel['files'] = [{ role: 'model', fileName: path.basename(s.model.path), path: s.model.path }];
  if (s.model.mmprojPath) files.push({ role: 'mmproj', fileName: path.basename(s.model.mmprojPath), path: s.model.mmprojPath });
  return { name: s.model.name, quantization: s.model.quantization, files, state: s.state, message: s.message };
}

async function tokenStatus(store: TokenStore | undefined): Promise<HfTokenStatus> {
  const saved = store ? (await store.read().catch(() => null)) !== null : false;
  return { saved, fromEnvironment: hfTokenFrom(undefined) !== null, canSave: store !== undefined };
}

/** The manager the backend uses: headless token from the environment unless one is injected. */
export function createModelManager(dataDir: string, engine: Engine, hfToken?: () => string | null | Promise<string | null>): ModelManager {
  return new ModelManager({ dataDir, devices: () => engineDevices(engine), hfToken: hfToken ?? (() => hfTokenFrom(undefined)) });
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ModelManagerError) throw new AppErrorException(err.toAppError());
    throw err;
  }
}

/** Where the desktop app keeps the Hugging Face token (OS keychain); absent in headless mode. */
export interface TokenStore {
  read(): Promise<string | null>;
  write(token: string | null): Promise<void>;
}

export function createModelHandlers(deps: { engine: Engine; models: ModelManager; hfTokenStore?: TokenStore | undefined }): Handlers<typeof modelsContract> {
  const { engine, models } = deps;
  return {
    'models.catalog': ({ nCtx }) => guard(() => models.catalogItems(nCtx)),
    'models.list': ({ nCtx }) => guard(() => models.list(nCtx)),
    'models.pull': (req) => guard(() => models.startPull(req)),
    'models.pause': ({ id }) => guard(() => models.pause(id)),
    'models.resume': ({ id }) => guard(() => models.resume(id)),
    'models.cancel': ({ id }) => guard(() => models.cancel(id)),
    'models.import': (req) => guard(() => models.importLocal(req)),
    'models.delete': ({ id }) =>
      guard(async () => {
        await models.remove(id);
        return { id };
      }),
    'models.setActive': ({ id }) =>
      guard(async () => {
        const model = await models.setActive(id);
        const file = (role: 'model' | 'mmproj'): string => (model.files.find((f) => f.role === role) as { path: string }).path;
        // Loading takes a while for 13B: progress and failures show on engine.watch.
        void engine.load({ model: file('model'), mmproj: file('mmproj') });
        return model;
      }),
    'models.commandLine': () => guard(() => commandLineModel(engine, models)),
    'models.tokenStatus': () => tokenStatus(deps.hfTokenStore),
    'models.setToken': async ({ token }) => {
      const store = deps.hfTokenStore;
      if (!store) {
        throw new AppErrorException({
          code: 'FORBIDDEN',
          message: 'This server reads the Hugging Face token from the HF_TOKEN environment variable; it cannot be saved from the page.',
        });
      }
      await store.write(token);
      return tokenStatus(store);
    },
    'models.watch': (_input, emit, signal) => watchUntilAborted<ModelsEvent>(signal, emit, (l) => models.onEvent(l), () => ({ type: 'snapshot', jobs: models.jobList() })),
  };
}
