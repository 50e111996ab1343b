// Per-conversation settings (system prompt, sampling, engine) and the presets they can start from.
import type { ContractClient } from '../../../electron/shared/client';
import type { ConversationSettings, Preset } from '../../../electron/shared/contracts/conversations';
import { CallState } from './call-state.svelte';
import type { ChatFeedback } from './chat-feedback.svelte';
import type { ConversationsState } from './conversations-state.svelte';
import type { MessagesState } from './messages-state.svelte';

export class ChatSettingsState extends CallState {
  presets = $state<Preset[]>([]);
  /** The preset new chats start from (the backend applies it; the panel shows it for a chat not yet saved). */
  defaultId = $state<string | null>(null);
  readonly defaultPreset = $derived(this.presets.find((p) => p.id === this.defaultId) ?? null);
  /** Until the first answer, a new chat's settings would show empty instead of the default preset. */
  presetsLoaded = $state(false);

  constructor(
    private readonly client: ContractClient,
    private readonly feedback: ChatFeedback,
    private readonly messages: MessagesState,
    private readonly conversations: ConversationsState,
  ) {
    super(feedback);
  }

  async loadPresets(): Promise<void> {
    const [list, chosen] = await Promise.all([this.client.call('presets.list', {}), this.client.call('presets.getDefault', {})]);
    const presets = this.unwrap(list);
    const d = this.unwrap(chosen);
    if (presets) this.presets = presets;
    if (d) this.defaultId = d.preset?.id ?? null;
    this.presetsLoaded = true;
  }

  /** null: new chats start with no preset. Returns whether it was saved. */
  async setDefault(id: string | null): Promise<boolean> {
    const saved = this.unwrap(await this.client.call('presets.setDefault', { id }));
    // A refused id was deleted elsewhere: show the list as it is now.
    if (!saved) {
      await this.loadPresets();
      return false;
    }
    this.defaultId = saved.preset?.id ?? null;
    this.feedback.notice = { text: saved.preset ? `New chats start with “${saved.preset.name}”.` : 'New chats start with no preset.' };
    return true;
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

  /** Keeps the id, so a renamed default stays the default. */
  async renamePreset(preset: Preset, name: string): Promise<boolean> {
    const saved = this.unwrap(await this.client.call('presets.save', { id: preset.id, name, system: preset.system, params: preset.params }));
    if (!saved) return false;
    await this.loadPresets();
    return true;
  }

  /** Deleting the default leaves new chats with no preset (the backend clears it). */
  async deletePreset(id: string): Promise<boolean> {
    const name = this.presets.find((p) => p.id === id)?.name ?? 'preset';
    if (!this.unwrap(await this.client.call('presets.delete', { id }))) return false;
    await this.loadPresets();
    this.feedback.notice = { text: `Deleted preset “${name}”.` };
    return true;
  }
}
