// The model /v1 serves: the engine's loaded model under its file name (and Fireworks' ids), as
// GET /v1/models lists it and as the `model` field of a generation request must name it.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Engine } from '../engine/engine';
import type { EngineStatus } from '../shared/types';
import { ApiError } from './api-errors';

/** Names accepted for the loaded model besides its file name (Fireworks' ids, so their examples run unchanged). */
export const MODEL_ALIASES: readonly string[] = ['firellava-13b', 'firellava', 'accounts/fireworks/models/firellava-13b'];

export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: 'local';
}

export function modelIdOf(status: EngineStatus): string | null {
  return status.model ? path.basename(status.model.path).replace(/\.gguf$/i, '') : null;
}

/** A model's `created`: its file's time, as OpenAI lists when a model was made. */
const createdOf = (file: string): number => {
  try {
    return Math.floor(statSync(file).mtimeMs / 1000);
  } catch {
    return 0;
  }
};

/** The served id when `requested` names the loaded model; 503 while none is ready, 404 for another name. */
export function requireModel(engine: Engine, requested: string): string {
  const status = engine.status();
  const id = modelIdOf(status);
  if (!id || !status.model) {
    throw new ApiError(503, 'No model is loaded: load FireLLaVA in the app (or start "firellava serve --model ...") and try again', 'server_error', 'model_not_loaded', null, { 'Retry-After': '10' });
  }
  if (status.state === 'loading') throw new ApiError(503, `The model is loading (${status.message})`, 'server_error', 'model_loading', null, { 'Retry-After': '2' });
  const names = [id, status.model.name, ...MODEL_ALIASES].map((n) => n.toLowerCase());
  if (!names.includes(requested.toLowerCase())) {
    throw new ApiError(404, `The model \`${requested.slice(0, 200)}\` does not exist. This server serves \`${id}\`.`, 'invalid_request_error', 'model_not_found', 'model');
  }
  return id;
}

/** GET /v1/models: the loaded model, or an empty list. */
export function listModels(engine: Engine): { object: 'list'; data: ModelEntry[] } {
  const status = engine.status();
  const id = modelIdOf(status);
  return { object: 'list', data: id && status.model ? [{ id, object: 'model', created: createdOf(status.model.path), owned_by: 'local' }] : [] };
}

/** GET /v1/models/{id}: the aliases chat accepts resolve to the loaded model, under the name asked for. */
export function findModel(engine: Engine, wanted: string): ModelEntry {
  const models = listModels(engine).data;
  const alias = models[0] && MODEL_ALIASES.some((a) => a.toLowerCase() === wanted.toLowerCase()) ? { ...models[0], id: wanted } : undefined;
  const model = models.find((m) => m.id.toLowerCase() === wanted.toLowerCase()) ?? alias;
  if (!model) throw new ApiError(404, `The model \`${wanted.slice(0, 200)}\` does not exist`, 'invalid_request_error', 'model_not_found', 'model');
  return model;
}
