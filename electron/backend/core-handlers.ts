// App info, engine status and attachments.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import type { coreContract } from '../shared/contracts/core';
import type { Handlers } from '../shared/dispatcher';
import { watchUntilAborted } from './watch';

export function createCoreHandlers(deps: {
  engine: Engine;
  attachments: AttachmentStore;
  app: { name: string; version: string };
  startupNotices?: readonly string[];
}): Handlers<typeof coreContract> {
  const { engine, attachments, app } = deps;
  return {
    'app.info': async (_input, ctx) => ({ name: app.name, version: app.version, transport: ctx.transport, notices: [...(deps.startupNotices ?? [])] }),

    'engine.status': async () => engine.status(),
    'engine.clearCache': async () => ({ bytes: (await engine.clearKvCache?.()) ?? 0 }),

    'engine.watch': (_input, emit, signal) => watchUntilAborted(signal, emit, (l) => engine.onStatus(l), () => engine.status()),

    'attachments.add': async ({ data }) => attachments.add(data),
  };
}
