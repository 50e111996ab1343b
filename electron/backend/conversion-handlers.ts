// "Get FireLLaVA" calls: thin mapping onto the job in electron/convert/get-firellava-job.ts.
import { GetFireLlavaJob } from '../convert/get-firellava-job';
import type { ConversionEvent, conversionContract } from '../shared/contracts/conversion';
import type { Handlers } from '../shared/dispatcher';
import type { BackendDeps } from './backend-deps';
import { watchUntilAborted } from './watch';

export function createConversionHandlers(deps: Pick<BackendDeps, 'engine' | 'models' | 'dataDir' | 'hfTokenStore' | 'onClose'>): Handlers<typeof conversionContract> {
  const job = new GetFireLlavaJob({ engine: deps.engine, models: deps.models, dataDir: deps.dataDir, tokenStore: deps.hfTokenStore });
  deps.onClose(() => job.close());
  return {
    'convert.plan': (where) => job.plan(where),
    'convert.start': (input) => job.start(input),
    'convert.cancel': () => job.cancel(),
    'convert.discard': (where) => job.discard(where),
    'convert.watch': (_input, emit, signal) => watchUntilAborted<ConversionEvent>(signal, emit, (l) => job.onEvent(l), () => ({ type: 'job', job: job.snapshot() })),
  };
}
