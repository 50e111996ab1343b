import type { enginesContract } from '../shared/contracts/engines';
import type { Handlers } from '../shared/dispatcher';
import type { BackendDeps } from './handlers';

export function createEngineHandlers(_deps: BackendDeps): Handlers<typeof enginesContract> {
  return {};
}
