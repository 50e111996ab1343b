// The local API server's settings calls. The controller starts the listener at backend creation
// when enabled and stops it on Backend.close().
import { ApiServerController } from '../api/api-server-controller';
import { API_PREFIX } from '../api/openai-api';
import type { ApiServerStatus, apiServerContract } from '../shared/contracts/api-server';
import type { Handlers, RequestContext } from '../shared/dispatcher';
import type { BackendDeps } from './backend-deps';

export function createApiServerHandlers(deps: Pick<BackendDeps, 'engine' | 'attachments' | 'dataDir' | 'secrets' | 'onClose'>): Handlers<typeof apiServerContract> {
  const controller = new ApiServerController({
    engine: deps.engine,
    attachments: deps.attachments,
    dataDir: deps.dataDir,
    ...(deps.secrets ? { secrets: deps.secrets } : {}),
  });
  deps.onClose(() => controller.close());
  // The HTTP transport only runs inside `firellava serve`, which always answers the API under /v1.
  const seenBy = (status: ApiServerStatus, ctx: RequestContext): ApiServerStatus => ({ ...status, servedApiPath: ctx.transport === 'http' ? API_PREFIX : null });
  return {
    'apiServer.status': async (_input, ctx) => seenBy(await controller.current(), ctx),
    'apiServer.configure': async (patch, ctx) => {
      await controller.ready;
      return seenBy(await controller.configure(patch), ctx);
    },
    'apiServer.rotateKey': async (_input, ctx) => {
      await controller.ready;
      return seenBy(await controller.rotateKey(), ctx);
    },
    'apiServer.revealKey': async () => ({ key: await controller.revealKey() }),
  };
}
