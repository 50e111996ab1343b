// The default preset of new chats, through the conversation handlers on a real SQLite file and the
// real engine (tiny generated model): what a new chat starts with, and what renaming or deleting
// the preset does to that.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import { createConversationHandlers } from '../../electron/backend/conversation-handlers';
import { ChatService } from '../../electron/chat/chat-service';
import type { LocalEngine } from '../../electron/engine/engine-host';
import type { ChatEvent } from '../../electron/shared/contracts/conversations';
import { HistoryStore } from '../../electron/store/history-store';
import { startEngine } from '../helpers/engine';
import { getFixtures } from '../helpers/fixtures';

let engine: LocalEngine;
let dir: string;
let store: HistoryStore;

beforeAll(async () => {
  const fx = await getFixtures();
  engine = startEngine();
  expect((await engine.load(fx.pair)).ok).toBe(true);
});
afterAll(async () => {
  await engine?.dispose();
});
afterEach(() => {
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** How the handlers are called over HTTP (serve); the context does not matter to these. */
const CTX = { transport: 'http' } as const;

const open = () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-preset-'));
  store = HistoryStore.open(path.join(dir, 'history.sqlite'));
  const attachments = createAttachmentStore(dir);
  const chat = new ChatService({ store, engine, attachments });
  return { h: createConversationHandlers({ history: store, chat, attachments }), chat };
};

describe('default preset for new chats', () => {
  it('a first message with no chat yet starts one with the preset, and the engine answers under its limits', async () => {
    const { h, chat } = open();
    const preset = await h['presets.save']({ name: 'Two tokens', system: 'Answer in two words.', params: { maxTokens: 2, temperature: 0, seed: 5 } }, CTX);
    expect(await h['presets.setDefault']({ id: preset.id }, CTX)).toEqual({ preset });
    const events: ChatEvent[] = [];
    await chat.send({ text: 'Write a long story about a mug.', attachments: [] }, (e) => events.push(e), new AbortController().signal);
    const done = events.find((e) => e.type === 'finished');
    if (done?.type !== 'finished') throw new Error('no finished event');
    expect(done.message.stats).toMatchObject({ finishReason: 'length', completionTokens: 2 });
    expect(store.getConversation(done.message.conversationId).conversation).toMatchObject({ system: 'Answer in two words.', params: { maxTokens: 2, temperature: 0, seed: 5 } });
  });

  it('New chat takes a built-in default; a renamed default stays; a deleted one leaves new chats empty, without an error', async () => {
    const { h } = open();
    expect(await h['presets.getDefault']({}, CTX)).toEqual({ preset: null });
    expect((await h['conversations.create']({ title: '' }, CTX)).id).toBeTruthy();

    await h['presets.setDefault']({ id: 'builtin-screenshot' }, CTX);
    const shot = await h['conversations.create']({ title: 'Screenshot' }, CTX);
    expect(store.settings(shot.id)).toEqual({ system: expect.stringContaining('Describe the screenshot'), params: { temperature: 0.1, maxTokens: 768 } });

    const mine = await h['presets.save']({ name: 'Alt text', system: 'Write alt text.', params: { maxTokens: 40 } }, CTX);
    await h['presets.setDefault']({ id: mine.id }, CTX);
    const renamed = await h['presets.save']({ id: mine.id, name: 'Alt text, short', system: 'Write short alt text.', params: { maxTokens: 30 } }, CTX);
    expect(await h['presets.getDefault']({}, CTX)).toEqual({ preset: renamed });
    expect(store.settings((await h['conversations.create']({ title: 'Alt' }, CTX)).id)).toEqual({ system: 'Write short alt text.', params: { maxTokens: 30 } });

    await expect(h['presets.setDefault']({ id: 'user-gone' }, CTX)).rejects.toThrow(/no longer exists/);
    expect(await h['presets.getDefault']({}, CTX)).toEqual({ preset: renamed });

    expect(await h['presets.delete']({ id: mine.id }, CTX)).toEqual({ deleted: true });
    expect(await h['presets.getDefault']({}, CTX)).toEqual({ preset: null });
    expect(store.settings((await h['conversations.create']({ title: 'Plain' }, CTX)).id)).toEqual({ system: '', params: {} });
    // The chats made earlier keep what they started with.
    expect(store.settings(shot.id).system).toContain('Describe the screenshot');

    await h['presets.setDefault']({ id: 'builtin-general' }, CTX);
    await h['presets.setDefault']({ id: null }, CTX);
    expect(store.settings((await h['conversations.create']({ title: 'Cleared' }, CTX)).id)).toEqual({ system: '', params: {} });
  });
});
