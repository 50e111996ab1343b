// A question longer than the model's context (the tiny model has 512 tokens) ends the answer as an
// error that says so, not as an empty "complete" answer; the conversation goes on.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
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
  engine = startEngine();
  expect((await engine.load((await getFixtures()).pair)).ok).toBe(true);
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-chat-ctx-'));
  store = HistoryStore.open(path.join(dir, 'history.sqlite'));
});
afterAll(async () => {
  store?.close();
  await engine?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const longText = Array.from({ length: 3000 }, (_, i) => `word${i % 50}`).join(' ');

it('saves the answer to a question that does not fit as an error naming the context size', async () => {
  const chat = new ChatService({ store, engine, attachments: createAttachmentStore(dir) });
  const events: ChatEvent[] = [];
  await chat.send({ text: longText, attachments: [] }, (e) => events.push(e), new AbortController().signal);
  const f = events.find((e) => e.type === 'finished');
  if (f?.type !== 'finished') throw new Error('no finished event');
  expect(f.message.status).toBe('error');
  expect(f.message.text).toBe('');
  expect(f.message.error).toMatch(/longer than the model's context \(512 tokens\): start a new chat or delete older messages/);
  const saved = store.getConversation(f.message.conversationId).messages;
  expect(saved.map((m) => [m.role, m.status])).toEqual([['user', 'complete'], ['assistant', 'error']]);
  expect(saved[1]!.error).toBe(f.message.error);
}, 60_000);
