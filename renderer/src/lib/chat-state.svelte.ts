// The chat window: one store per concern, sharing one error banner and notice, and what only their
// sum knows (which engine answers next, why Send is disabled). Components read and call the stores.
import type { ContractClient } from '../../../electron/shared/client';
import type { EngineEntry } from '../../../electron/shared/contracts/engines';
import { ChatFeedback } from './chat-feedback.svelte';
import { ChatSettingsState } from './chat-settings-state.svelte';
import { ComposerState } from './composer-state.svelte';
import { ConversationsState } from './conversations-state.svelte';
import { EnginesState } from './engines-state.svelte';
import { MessagesState } from './messages-state.svelte';
import { StreamingState } from './streaming-state.svelte';

export class ChatState {
  readonly feedback = new ChatFeedback();
  readonly engines: EnginesState;
  readonly messages: MessagesState;
  readonly conversations: ConversationsState;
  readonly settings: ChatSettingsState;
  readonly composer: ComposerState;
  readonly streaming: StreamingState;

  /** The engine the next answer in this conversation comes from (the default when none is chosen or it was removed). */
  readonly currentEngine = $derived.by((): EngineEntry | null => this.engines.resolve(this.messages.view?.conversation.engineId ?? null));
  /** A remote engine does not need the local model. */
  readonly answerReady = $derived.by(() => this.engines.ready || this.currentEngine?.kind === 'remote');
  readonly sendBlockedReason = $derived.by((): string | null => {
    const status = this.engines.status;
    if (this.engines.connectionError) return 'Not connected to the backend';
    if (this.currentEngine?.kind !== 'remote') {
      if (!status || status.state === 'no-model') return 'No model is loaded';
      if (status.state === 'loading') return 'The model is still loading';
      if (status.state === 'error') return 'The model failed to load';
    }
    if (this.streaming.generating) return 'Wait for the answer or stop it';
    if (this.composer.attaching > 0) return 'The image is still being checked';
    if (this.composer.empty) return 'Write a message or attach an image';
    return null;
  });

  constructor(private readonly client: ContractClient) {
    this.engines = new EnginesState(client);
    this.messages = new MessagesState(client, this.feedback, () => this.streaming.generating);
    this.conversations = new ConversationsState(client, this.feedback, this.messages);
    this.settings = new ChatSettingsState(client, this.feedback, this.messages, this.conversations);
    this.composer = new ComposerState(client, this.feedback);
    this.streaming = new StreamingState(client, this.feedback, this.messages, this.conversations);
  }

  start(): () => void {
    const stopEngines = this.engines.start();
    void this.client.call('app.info', {}).then((r) => {
      if (r.ok) this.feedback.startupNotices = r.value.notices;
    });
    void this.conversations.refresh();
    void this.settings.loadPresets();
    return () => {
      stopEngines();
      this.streaming.cancel();
      this.composer.dispose();
    };
  }

  send(): void {
    if (this.sendBlockedReason) return;
    const last = this.messages.view?.messages.at(-1);
    const open = this.messages.view ? { conversationId: this.messages.view.conversation.id, parentId: last?.id ?? null } : {};
    const taken = this.composer.take();
    this.streaming.generate('messages.send', { ...open, text: taken.text, attachments: taken.attachments }, taken.settle);
  }
}
