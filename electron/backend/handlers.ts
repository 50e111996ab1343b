// The contract implemented once, on top of an Engine and an attachment store. Used by the
// Electron main process (IPC) and the headless server (HTTP) alike.
import type { Contract } from '../shared/contract';
import type { Handlers } from '../shared/dispatcher';
import type { GenerateEvent } from '../shared/types';
import type { Engine, EngineTurn } from '../engine/engine';
import type { AttachmentStore } from '../attachments/attachment-store';

export interface BackendDeps {
  engine: Engine;
  attachments: AttachmentStore;
  app: { name: string; version: string };
}

export function createBackendHandlers({ engine, attachments, app }: BackendDeps): Handlers<Contract> {
  return {
    'app.info': async (_input, ctx) => ({ name: app.name, version: app.version, transport: ctx.transport }),

    'engine.status': async () => engine.status(),

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

    'chat.generate': async (input, emit, signal) => {
      const turns: EngineTurn[] = [];
      for (const turn of input.turns) {
        const images = [];
        for (const id of turn.attachmentIds) images.push({ id, path: await attachments.pathOf(id) });
        turns.push({ role: turn.role, text: turn.text, images });
      }
      // The engine may or may not pass its terminal event to onEvent; the client must see it once.
      let terminalSent = false;
      const onEvent = (event: GenerateEvent): void => {
        if (event.type === 'done' || event.type === 'error') {
          if (terminalSent) return;
          terminalSent = true;
        }
        emit(event);
      };
      const last = await engine.generate(
        { conversationId: input.conversationId, system: input.system, turns, params: input.params },
        onEvent,
        signal,
      );
      onEvent(last);
    },
  };
}
