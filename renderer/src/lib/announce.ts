// What a screen reader hears when a streamed answer ends: once, not on every token.
import type { MessageStatus } from '../../../electron/shared/contracts/conversations';

const FIRST_WORDS = 12;
const ENDING: Partial<Record<MessageStatus, string>> = {
  complete: 'Answer finished',
  stopped: 'Answer stopped',
  interrupted: 'Answer interrupted',
  error: 'Answer failed',
};

/** "Answer finished: The cat sits on a red mat…"; '' for a message that is still streaming. */
export function finishedAnnouncement(message: { status: MessageStatus; text: string }): string {
  const ending = ENDING[message.status];
  if (!ending) return '';
  const words = message.text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return `${ending}.`;
  return `${ending}: ${words.slice(0, FIRST_WORDS).join(' ')}${words.length > FIRST_WORDS ? '…' : ''}`;
}
