// Per-conversation settings (system prompt, sampling, engine) and the presets they can start from.
import type { ContractClient } from '../../../electron/shared/client';
import type { ConversationSettings, Preset } from '../../../electron/shared/contracts/conversations';
import { CallState } from './call-state.svelte';
import type { ChatFeedback } from './chat-feedback.svelte';
import type { ConversationsState } from './conversations-state.svelte';
import type { MessagesState } from './messages-state.svelte';

export class ChatSettingsState extends CallState {
  presets = $state<Preset[]>([]);

  constructor(
    private readonly client: ContractClient,
    private readonly feedback: ChatFeedback,
    private readonly messages: MessagesState,
    private readonly conversations: ConversationsState,
  ) {
    super(feedback);
  }

  async loadPresets(): Promise<void> {
    const list = this.unwrap(await this.client.call('presets.list', {}));
    if (list) this.presets = list;
  }

  /** Settings belong to a conversation: a new chat is created first so they have a home. */
  async apply(settings: Partial<ConversationSettings> & { engineId?: string | null }): Promise<boolean> {
    let id = this.messages.currentId;
    if (!id) {
      const created = this.unwrap(await this.client.call('conversations.create', {}));
      if (!created) return false;
      id = created.id;
      await this.conversations.refresh();
    }
    const view = this.unwrap(await this.client.call('conversations.settings', { id, ...settings }));
    if (!view) return false;
    const open = this.messages.view;
    if (open && open.conversation.id === id) open.conversation = view.conversation;
    else this.messages.view = view;
    this.feedback.notice = { text: 'Settings saved for this conversation.' };
    return true;
  }

  async savePreset(name: string, settings: ConversationSettings): Promise<void> {
    const saved = this.unwrap(await this.client.call('presets.save', { name, system: settings.system, params: settings.params }));
    if (!saved) return;
    await this.loadPresets();
    this.feedback.notice = { text: `Saved preset “${saved.name}”.` };
  }

  async deletePreset(id: string): Promise<void> {
    if (this.unwrap(await this.client.call('presets.delete', { id }))) await this.loadPresets();
  }
}
