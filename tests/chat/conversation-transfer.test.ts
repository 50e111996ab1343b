import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { exportConversation, importConversation } from '../../electron/chat/conversation-transfer';
import { HistoryStore } from '../../electron/store/history-store';
import { makePng } from '../helpers/test-images';

let dir: string;
let store: HistoryStore;
let attachments: AttachmentStore;
const fresh = (): void => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-transfer-'));
  store = HistoryStore.open(path.join(dir, 'history.sqlite'));
  attachments = createAttachmentStore(dir);
};
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function sample(): Promise<string> {
  const img = await attachments.add(makePng(28, 28, 5));
  const c = store.createConversation('Mug photos');
  store.updateSettings(c.id, { system: 'Be brief.', params: { temperature: 0.3 } });
  const q = store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'Title for this?', status: 'complete', attachments: [{ ...img, name: 'mug.png' }] });
  store.addMessage({ conversationId: c.id, parentId: q.id, role: 'assistant', text: 'Blue mug', status: 'complete' });
  const a2 = store.addMessage({ conversationId: c.id, parentId: q.id, role: 'assistant', text: '**Cobalt** mug', status: 'stopped' });
  store.switchVersion(a2.id);
  return c.id;
}

const shape = (id: string) => {
  const v = store.getConversation(id);
  return {
    title: v.conversation.title,
    system: v.conversation.system,
    params: v.conversation.params,
    messages: v.messages.map((m) => ({ role: m.role, text: m.text, status: m.status, versions: m.versions.ids.length, index: m.versions.index, images: m.attachments.map((a) => [a.name, a.width]) })),
  };
};

describe('conversation export and import', () => {
  it('round-trips every branch, the settings, the visible version and the images through JSON', async () => {
    fresh();
    const id = await sample();
    const file = await exportConversation(store, attachments, id, 'json');
    expect(file).toMatchObject({ fileName: 'Mug-photos.json', mimeType: 'application/json' });
    // Into a different data folder, as on another machine.
    const original = shape(id);
    store.close();
    rmSync(dir, { recursive: true, force: true });
    fresh();
    const imported = await importConversation(store, attachments, file.data);
    expect(shape(imported.id)).toEqual(original);
    const image = store.getConversation(imported.id).messages[0]!.attachments[0]!;
    expect(await attachments.pathOf(image.id)).toContain(image.id);
    expect(store.listConversations()[0]!.imageId).toBe(image.id); // the list's thumbnail
    expect(store.allMessages(imported.id)).toHaveLength(3);
  });

  it('exports the visible branch as Markdown with its image files in a zip', async () => {
    fresh();
    const id = await sample();
    const file = await exportConversation(store, attachments, id, 'markdown');
    expect(file).toMatchObject({ fileName: 'Mug-photos.zip', mimeType: 'application/zip' });
    const zip = path.join(dir, 'out.zip');
    writeFileSync(zip, file.data);
    const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n');
    expect(listing[0]).toBe('Mug-photos.md');
    expect(listing[1]).toBe('images/Mug-photos-1.png'); // named after the chat and the question, not a hash
    const md = execFileSync('unzip', ['-p', zip, 'Mug-photos.md'], { encoding: 'utf8' });
    expect(md).toContain('# Mug photos');
    expect(md).toContain(`![mug.png](${listing[1]})`);
    expect(md).toContain('## Assistant (stopped)\n\n**Cobalt** mug');
    expect(md).not.toContain('Blue mug'); // the other version is not on the visible branch
    execFileSync('unzip', ['-tq', zip]); // CRCs check out
  });

  it('refuses damaged files with a reason and writes nothing', async () => {
    fresh();
    const id = await sample();
    const good = JSON.parse(Buffer.from((await exportConversation(store, attachments, id, 'json')).data).toString('utf8'));
    const before = store.listConversations().length;
    const bad: [unknown, RegExp][] = [
      ['{not json', /not JSON/],
      [{ ...good, format: 'other-app' }, /format/],
      [{ ...good, images: {} }, /image .* is missing/],
      [{ ...good, messages: good.messages.map((m: { parentKey: number | null }) => ({ ...m, parentKey: 999 })) }, /not in the file/],
      [{ ...good, images: { [Object.keys(good.images)[0]!]: { mimeType: 'image/png', data: 'AAAA' } } }, /not a supported image/],
      // The same bounds as the settings call: a seed no engine takes is refused, not stored.
      [{ ...good, conversation: { ...good.conversation, params: { seed: 2 ** 40 } } }, /seed/],
    ];
    for (const [doc, reason] of bad) {
      const bytes = Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
      await expect(importConversation(store, attachments, bytes)).rejects.toThrow(reason);
    }
    expect(store.listConversations()).toHaveLength(before);
  });

  it('a refused import takes the images it stored with it, and keeps the ones other chats use', async () => {
    fresh();
    const id = await sample();
    const good = JSON.parse(Buffer.from((await exportConversation(store, attachments, id, 'json')).data).toString('utf8'));
    const kept = Object.keys(good.images)[0]!;
    const fresh2 = makePng(30, 30, 77).toString('base64');
    const doc = {
      ...good,
      // One image already stored (used by the chat above), one new, then one that is not an image.
      images: { ...good.images, ['b'.repeat(64)]: { mimeType: 'image/png', data: fresh2 }, ['c'.repeat(64)]: { mimeType: 'image/png', data: 'AAAA' } },
    };
    const stored = (): string[] => readdirSync(attachments.dir).filter((n) => /^[a-f0-9]{64}\./.test(n));
    const thumbs = (): string[] => readdirSync(path.join(attachments.dir, 'thumbs'));
    expect(stored()).toHaveLength(1);
    await expect(importConversation(store, attachments, Buffer.from(JSON.stringify(doc)))).rejects.toThrow(/not a supported image/);
    expect(stored()).toEqual([`${kept}.png`]);
    expect(thumbs()).toEqual([`${kept}.jpg`]);
    expect(store.listConversations()).toHaveLength(1);
  });
});
