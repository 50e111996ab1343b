// App info, engine status and attachments.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import type { coreContract } from '../shared/contracts/core';
import type { Handlers } from '../shared/dispatcher';

export function createCoreHandlers(deps: { engine: Engine; attachments: AttachmentStore; app: { name: string; version: string } }): Handlers<typeof coreContract> {
  const { engine, attachments, app } = deps;
  return {
    'app.info': async (_input, ctx) => ({ name: app.name, version: app.version, transport: ctx.transport }),

    'engine.status': async () => engine.status(),
    'engine.clearCache': async () => ({ bytes: (await engine.clearKvCache?.()) ?? 0 }),

    'engine.watch': async (_input, emit, signal) => {
      if (signal.aborted) return;
      const off = engine.onStatus(emit);
      try {
        emit(engine.status());
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      } finally {
        off();
      }
    },

    'attachments.add': async ({ data }) => attachments.add(data),
  };
}
