// Remote engines and the default engine: thin mapping onto the registry the chat service answers with.
import type { enginesContract } from '../shared/contracts/engines';
import type { Handlers } from '../shared/dispatcher';
import type { BackendDeps } from './backend-deps';

export function createEngineHandlers(deps: Pick<BackendDeps, 'chat'>): Handlers<typeof enginesContract> {
  const registry = deps.chat.engines;
  return {
    'engines.list': () => registry.list(),
    'engines.addRemote': (input) => registry.addRemote(input),
    'engines.updateRemote': (input) => registry.updateRemote(input),
    'engines.removeRemote': ({ id }) => registry.removeRemote(id),
    'engines.test': (input) => registry.test(input),
    'engines.setDefault': ({ id }) => registry.setDefault(id),
  };
}
