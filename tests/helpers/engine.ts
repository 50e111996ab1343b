// Starts the real engine (host + worker process running @fugood/llama.node) for tests.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Engine, EngineTurn, GenerateRequest } from '../../electron/engine/engine';
import { createLocalEngine, type LocalEngine, type LocalEngineOptions } from '../../electron/engine/engine-host';
import { spawnNodeWorker, type SpawnWorker } from '../../electron/engine/worker-process';
import type { RequestKind } from '../../electron/engine/worker-protocol';
import type { GenerateEvent } from '../../electron/shared/types';
import { REPO_ROOT } from './fixtures';

export const WORKER_ENTRY = path.join(REPO_ROOT, 'dist', 'engine', 'engine-worker.cjs');

export function startEngine(options: Omit<LocalEngineOptions, 'workerEntry'> = {}): LocalEngine {
  if (!existsSync(WORKER_ENTRY)) throw new Error(`${WORKER_ENTRY} is missing: run "npm run build:node" first (npm test does)`);
  return createLocalEngine({ ...options, workerEntry: WORKER_ENTRY });
}

/** The real engine with its generate replaced by a wrapper (a tap, a timer); dispose is the test's. */
export function wrapGenerate(engine: LocalEngine, generate: Engine['generate']): Engine {
  return { status: () => engine.status(), onStatus: (l) => engine.onStatus(l), load: (p) => engine.load(p), dispose: async () => undefined, generate };
}

/** Counts model loads in the engine's native log; pass `onLog` to startEngine. */
export function loadCounter(): { onLog: (text: string) => void; loads: () => number } {
  let log = '';
  const count = (marker: string): number => log.split(marker).length - 1;
  return {
    onLog: (text) => (log += text),
    loads: () => count('llama_model_loader: loaded meta data'),
  };
}

/**
 * The real engine whose worker is SIGKILLed the moment it is sent a request of the given kind: a
 * worker that dies during load or during an answer, without a mocked engine. `spawned` counts
 * the worker processes started.
 */
export function startEngineKilledOn(kind: RequestKind): { engine: LocalEngine; spawned: () => number } {
  let count = 0;
  const spawn: SpawnWorker = (entry) => {
    count++;
    const w = spawnNodeWorker(entry);
    return {
      get pid() {
        return w.pid;
      },
      send: (message) => {
        w.send(message);
        if (message.type === 'request' && message.kind === kind && w.pid) process.kill(w.pid, 'SIGKILL');
      },
      onMessage: (l) => w.onMessage(l),
      onExit: (l) => w.onExit(l),
      onOutput: (l) => w.onOutput(l),
      kill: () => w.kill(),
    };
  };
  // CPU only: on a GPU machine a crashed GPU load is retried on the CPU build within one load().
  return { engine: createLocalEngine({ workerEntry: WORKER_ENTRY, spawn, cpuOnly: true }), spawned: () => count };
}

/** Greedy and seeded, so answers are the same on every run. */
export const GREEDY = { maxTokens: 24, temperature: 0, topK: 1, topP: 1, seed: 7, stop: [] as string[] };

export const user = (text: string, images: { id: string; path: string }[] = []): EngineTurn => ({ role: 'user', text, images });
export const assistant = (text: string): EngineTurn => ({ role: 'assistant', text, images: [] });

export function request(
  turns: EngineTurn[],
  params: Partial<typeof GREEDY> & { presencePenalty?: number; frequencyPenalty?: number } = {},
  conversationId = 'c1',
): GenerateRequest {
  return { conversationId, system: 'You are a careful visual assistant.', turns, params: { ...GREEDY, ...params } };
}

export interface Collected {
  events: GenerateEvent[];
  deltas: string;
  terminal: GenerateEvent & { type: 'done' | 'error' };
}

export async function collect(
  engine: LocalEngine,
  req: GenerateRequest,
  onEvent?: (event: GenerateEvent) => void,
  signal?: AbortSignal,
): Promise<Collected> {
  const events: GenerateEvent[] = [];
  const terminal = await engine.generate(
    req,
    (event) => {
      events.push(event);
      onEvent?.(event);
    },
    signal,
  );
  const deltas = events.map((e) => (e.type === 'delta' ? e.text : '')).join('');
  return { events, deltas, terminal };
}
