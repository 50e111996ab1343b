// Built-in presets: the vision workflows people use most. User presets live in the database.
import type { ConversationSummary, Preset } from '../shared/contracts/conversations';
import { AppErrorException } from '../shared/errors';
import { getSetting, setSetting } from '../store/app-settings';
import type { HistoryStore } from '../store/history-store';

export const BUILTIN_PRESETS: readonly Preset[] = [
  {
    id: 'builtin-general',
    name: 'General',
    builtin: true,
    system: 'You are a helpful assistant. Answer questions about the image accurately and concisely; say so when something is not visible.',
    params: { temperature: 0.2, maxTokens: 512 },
  },
  {
    id: 'builtin-screenshot',
    name: 'Describe this screenshot',
    builtin: true,
    system:
      'Describe the screenshot: which application or page it shows, its layout, the visible text (quote it exactly), and any error messages, warnings or highlighted elements. Do not guess at text you cannot read.',
    params: { temperature: 0.1, maxTokens: 768 },
  },
  {
    id: 'builtin-product',
    name: 'Product description',
    builtin: true,
    system: [
      'You write product copy from a photo of the product. Describe only what is visible. Reply in Markdown with these sections:',
      '**Title**: one line, under 80 characters.',
      '**Features**: 3 to 5 bullet points.',
      '**Short description**: one or two sentences.',
      '**Long description**: one paragraph.',
      '**Alt text**: under 125 characters, for screen readers.',
    ].join('\n'),
    params: { temperature: 0.4, maxTokens: 768 },
  },
];

/** Built-in presets first, then the user's by name. */
export function allPresets(history: HistoryStore): Preset[] {
  return [...BUILTIN_PRESETS, ...history.listPresets()];
}

/** The preset new chats start from; null when none is chosen (deleting it clears the choice, migration 9). */
export function defaultPreset(history: HistoryStore): Preset | null {
  const id = getSetting(history.db, 'default_preset');
  return id === null ? null : (allPresets(history).find((p) => p.id === id) ?? null);
}

/** null clears the default. The id is kept, so renaming the preset keeps it the default. */
export function setDefaultPreset(history: HistoryStore, id: string | null): Preset | null {
  if (id !== null && !allPresets(history).some((p) => p.id === id)) {
    throw new AppErrorException({ code: 'NOT_FOUND', message: 'This preset no longer exists; choose another one' });
  }
  setSetting(history.db, 'default_preset', id);
  return defaultPreset(history);
}

/** Every new chat starts with the default preset's system prompt and generation settings. */
export function createConversationWithDefault(history: HistoryStore, title = ''): ConversationSummary {
  const preset = defaultPreset(history);
  return history.db.transaction(() => {
    const c = history.createConversation(title);
    if (preset) history.updateSettings(c.id, { system: preset.system, params: preset.params });
    return c;
  })();
}
