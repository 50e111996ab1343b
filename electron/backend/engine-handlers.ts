// Remote engines and the default engine: thin mapping onto the registry the chat service answers with.
import { EngineRegistry } from '../engine/engine-registry';
import type { enginesContract } from '../shared/contracts/engines';
import type { Handlers } from '../shared/dispatcher';
import type { BackendDeps } from './handlers';

export function createEngineHandlers(deps: BackendDeps): Handlers<typeof enginesContract> {
  // Transport tests build handlers without a chat service: a registry of their own, saved nowhere.
  const registry = deps.chat?.engines ?? new EngineRegistry({ local: deps.engine });
  return {
    'engines.list': () => registry.list(),
    'engines.addRemote': (input) => registry.addRemote(input),
    'engines.updateRemote': (input) => registry.updateRemote(input),
    'engines.removeRemote': ({ id }) => registry.removeRemote(id),
    'engines.test': (input) => registry.test(input),
    'engines.setDefault': ({ id }) => registry.setDefault(id),
  };
}
