// Chats the user did not name take their title from the first answer (real engine, tiny model),
// a name the user gave is kept, and exports are named after the title.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { ChatService } from '../../electron/chat/chat-service';
import { safeFileName, TITLE_MAX_CHARS, titleFromAnswer } from '../../electron/chat/chat-title';
import { exportConversation } from '../../electron/chat/conversation-transfer';
import type { LocalEngine } from '../../electron/engine/engine-host';
import type { ChatEvent } from '../../electron/shared/contracts/conversations';
import { HistoryStore } from '../../electron/store/history-store';
import { startEngine } from '../helpers/engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';

let fx: Fixtures;
let engine: LocalEngine;
let dir: string;
let store: HistoryStore;
let attachments: AttachmentStore;
let chat: ChatService;

beforeAll(async () => {
  fx = await getFixtures();
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

const fresh = (): void => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-title-'));
  store = HistoryStore.open(path.join(dir, 'history.sqlite'));
  attachments = createAttachmentStore(dir);
  chat = new ChatService({ store, engine, attachments });
};

/** An image-only question in a new chat, greedy so the answer is the same on every run. */
async function askImageOnly(onEvent: (e: ChatEvent) => void = () => {}): Promise<{ id: string; answer: string; events: ChatEvent[] }> {
  const img = await attachments.add(readFileSync(fx.images.png32));
  const c = store.createConversation('');
  store.updateSettings(c.id, { params: { maxTokens: 24, temperature: 0, seed: 7 } });
  const events: ChatEvent[] = [];
  await chat.send({ conversationId: c.id, text: '', attachments: [{ id: img.id, name: 'image.png' }] }, (e) => {
    events.push(e);
    onEvent(e);
  }, new AbortController().signal);
  const done = events.find((e) => e.type === 'finished');
  if (done?.type !== 'finished') throw new Error('no finished event');
  expect(done.message.status).toBe('complete');
  return { id: c.id, answer: done.message.text, events };
}

describe('chat titles', () => {
  it('names an image-only chat from its first answer, tells the page, and never again after that', async () => {
    fresh();
    const { id, answer, events } = await askImageOnly();
    const expected = titleFromAnswer(answer);
    // The tiny model's answer has readable words once the U+FFFD bytes are gone.
    expect(expected).not.toBe('');
    expect([...expected].length).toBeLessThanOrEqual(TITLE_MAX_CHARS + 1);
    expect(expected).not.toMatch(/\uFFFD/);
    const titles = events.flatMap((e) => (e.type === 'conversation' ? [e.conversation.title] : []));
    expect(titles).toEqual(['Image', expected]);
    // The list has the thumbnail from the start, while the answer streams.
    const first = events.find((e) => e.type === 'conversation');
    expect(first?.type === 'conversation' && first.conversation.imageId).toMatch(/^[a-f0-9]{64}$/);
    expect(store.summary(id).title).toBe(expected);
    expect(store.listConversations()[0]).toMatchObject({ id, title: expected, imageId: expect.stringMatching(/^[a-f0-9]{64}$/) });

    // A second answer (another question, a regeneration) leaves the title alone.
    store.updateSettings(id, { params: { seed: 99 } });
    const second: ChatEvent[] = [];
    await chat.send({ conversationId: id, text: 'And the colours?', attachments: [] }, (e) => second.push(e), new AbortController().signal);
    expect(second.some((e) => e.type === 'conversation' && e.conversation.title !== expected)).toBe(false);
    expect(store.summary(id).title).toBe(expected);
  });

  it('keeps a name the user gave, even one given while the first answer streams, and it stays editable', async () => {
    fresh();
    let renamed = false;
    const mid = await askImageOnly((e) => {
      if (e.type === 'delta' && !renamed) {
        renamed = true;
        store.rename(store.message(e.messageId).conversationId, 'Kitchen shelf');
      }
    });
    expect(renamed).toBe(true);
    expect(store.summary(mid.id).title).toBe('Kitchen shelf');
    expect(mid.events.filter((e) => e.type === 'conversation')).toHaveLength(1);

    const named = store.createConversation('Mug shots');
    const img = await attachments.add(readFileSync(fx.images.png32));
    await chat.send({ conversationId: named.id, text: '', attachments: [{ id: img.id, name: 'image.png' }] }, () => {}, new AbortController().signal);
    expect(store.summary(named.id).title).toBe('Mug shots');

    // A chat named by its answer can still be renamed, and keeps that name.
    const auto = await askImageOnly();
    expect(store.summary(auto.id).title).toBe(titleFromAnswer(auto.answer));
    expect(store.rename(auto.id, 'Shelf, take 2').title).toBe('Shelf, take 2');
    await chat.regenerate(store.getConversation(auto.id).messages.at(-1)!.id, () => {}, new AbortController().signal);
    expect(store.summary(auto.id).title).toBe('Shelf, take 2');
  });

  it('names the Markdown and JSON exports, and the images inside, after the title', async () => {
    fresh();
    const { id } = await askImageOnly();
    const title = store.summary(id).title;
    const base = safeFileName(title);
    expect(base).not.toBe('Image');
    const md = await exportConversation(store, attachments, id, 'markdown');
    expect(md.fileName).toBe(`${base}.zip`);
    const json = await exportConversation(store, attachments, id, 'json');
    expect(json.fileName).toBe(`${base}.json`);
    const zip = path.join(dir, 'out.zip');
    writeFileSync(zip, md.data);
    const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toEqual([`${base}.md`, `images/${base}-1.png`]);
    expect(execFileSync('unzip', ['-p', zip, `${base}.md`], { encoding: 'utf8' })).toContain(`# ${title}\n`);
  });
});

describe('title and file name rules', () => {
  it('takes the first sentence or clause without Markdown, filler or broken bytes, at most 48 characters', () => {
    expect(titleFromAnswer('The image shows a blue ceramic mug on a wooden table. It is morning.')).toBe('A blue ceramic mug on a wooden table');
    expect(titleFromAnswer('**Sure!** Here is a title:\n\n# Cobalt Ceramic Mug – 350 ml\n\nMore.')).toBe('Cobalt Ceramic Mug – 350 ml');
    expect(titleFromAnswer('A screenshot of an error dialog, which says the PNG data ends inside the IDAT chunk')).toBe('A screenshot of an error dialog');
    expect(titleFromAnswer('\uFFFD\uFFFD red\uFFFD mug \uFFFD')).toBe('Red mug');
    expect(titleFromAnswer('\uFFFD\uFFFD ... ``` ')).toBe('');
    const long = titleFromAnswer('Word '.repeat(40));
    expect(long.endsWith('…')).toBe(true);
    expect([...long].length).toBeLessThanOrEqual(TITLE_MAX_CHARS + 1);
    expect(titleFromAnswer('Is this a mug? Yes.')).toBe('Is this a mug?');
  });

  it('makes safe file names: no path parts, no reserved or empty names, letters of any script kept', () => {
    expect(safeFileName('../../etc/passwd')).toBe('etc-passwd');
    expect(safeFileName('CON')).toBe('CON-conversation');
    expect(safeFileName('\uFFFD.')).toBe('conversation');
    expect(safeFileName('Mug: 見出し / テスト')).toBe('Mug-見出し-テスト');
  });
});
