import type { apiServerContract } from '../shared/contracts/api-server';
import type { Handlers } from '../shared/dispatcher';
import type { BackendDeps } from './handlers';

export function createApiServerHandlers(_deps: BackendDeps): Handlers<typeof apiServerContract> {
  return {};
}
