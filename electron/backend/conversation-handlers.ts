// Persistent conversations: thin mapping from the contract onto the history store and chat service.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { ChatService } from '../chat/chat-service';
import { exportConversation, importConversation } from '../chat/conversation-transfer';
import { allPresets, createConversationWithDefault, defaultPreset, setDefaultPreset } from '../chat/presets';
import type { conversationsContract } from '../shared/contracts/conversations';
import type { Handlers } from '../shared/dispatcher';
import type { HistoryStore } from '../store/history-store';

export function createConversationHandlers(deps: { history: HistoryStore; chat: ChatService; attachments: AttachmentStore }): Handlers<typeof conversationsContract> {
  const { history, chat, attachments } = deps;
  return {
    'conversations.list': async ({ trash, limit }) => history.listConversations({ trash, limit }),
    'conversations.create': async ({ title }) => createConversationWithDefault(history, title),
    'conversations.get': async ({ id }) => history.getConversation(id),
    'conversations.rename': async ({ id, title }) => history.rename(id, title),
    'conversations.settings': async ({ id, system, params, engineId }) => {
      // The engine first: an unknown one refuses the whole change.
      if (engineId !== undefined) chat.setEngine(id, engineId);
      history.updateSettings(id, { ...(system !== undefined ? { system } : {}), ...(params ? { params } : {}) });
      return history.getConversation(id);
    },
    'conversations.delete': async ({ id }) => {
      chat.stop(id);
      return history.trash(id);
    },
    'conversations.restore': async ({ id }) => history.restore(id),
    'conversations.emptyTrash': async () => chat.emptyTrash(),
    'conversations.search': async ({ query, limit }) => history.search(query, limit),
    'messages.switchVersion': async ({ messageId }) => history.getConversation(history.switchVersion(messageId)),
    'messages.send': (input, emit, signal) => chat.send(input, emit, signal),
    'messages.regenerate': ({ messageId }, emit, signal) => chat.regenerate(messageId, emit, signal),
    'messages.continue': ({ messageId }, emit, signal) => chat.continue(messageId, emit, signal),
    'messages.edit': (input, emit, signal) => chat.edit(input, emit, signal),
    'conversations.export': async ({ id, format }) => exportConversation(history, attachments, id, format),
    'conversations.import': async ({ data }) => importConversation(history, attachments, data),
    'presets.list': async () => allPresets(history),
    'presets.save': async (input) => history.savePreset(input),
    'presets.delete': async ({ id }) => ({ deleted: history.deletePreset(id) }),
    'presets.getDefault': async () => ({ preset: defaultPreset(history) }),
    'presets.setDefault': async ({ id }) => ({ preset: setDefaultPreset(history, id) }),
    'messages.stop': async ({ conversationId }) => ({ stopped: chat.stop(conversationId) }),
  };
}
