import type { conversionContract } from '../shared/contracts/conversion';
import type { Handlers } from '../shared/dispatcher';
import type { BackendDeps } from './handlers';

export function createConversionHandlers(_deps: BackendDeps): Handlers<typeof conversionContract> {
  return {};
}
