// Stateless generation: the caller sends the turns, the engine streams the answer.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine, EngineTurn } from '../engine/engine';
import { generationLimitOf } from '../engine/generation-limit';
import type { chatContract } from '../shared/contracts/chat';
import type { Handlers } from '../shared/dispatcher';

export function createChatHandlers(deps: { engine: Engine; attachments: AttachmentStore }): Handlers<typeof chatContract> {
  const { engine, attachments } = deps;
  return {
    'chat.generate': async (input, emit, signal) => {
      // The queue bound shared with chat sends and /v1; the engine counts the request once asked.
      const slot = generationLimitOf(engine).take();
      try {
        const turns: EngineTurn[] = [];
        for (const turn of input.turns) {
          const images = [];
          for (const id of turn.attachmentIds) images.push({ id, path: await attachments.pathOf(id) });
          turns.push({ role: turn.role, text: turn.text, images });
        }
        // The engine streams phase/image/delta events and returns the terminal one.
        const generating = engine.generate({ conversationId: input.conversationId, system: input.system, turns, params: input.params }, emit, signal);
        slot();
        emit(await generating);
      } finally {
        slot();
      }
    },
  };
}
