// Neither a huge import nor a search over huge messages may freeze the server: the event loop keeps
// serving other requests, and no single step holds it for long.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAttachmentStore, type AttachmentStore } from '../../electron/attachments/attachment-store';
import { importConversation } from '../../electron/chat/conversation-transfer';
import { HistoryStore } from '../../electron/store/history-store';
import { makePng } from '../helpers/test-images';

let dir: string;
let store: HistoryStore;
let attachments: AttachmentStore;
const fresh = (): void => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-blocking-'));
  store = HistoryStore.open(path.join(dir, 'history.sqlite'));
  attachments = createAttachmentStore(dir);
};
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Longest gap between timer ticks while `work` runs: how long anything else had to wait. */
async function longestBlock<T>(work: () => Promise<T>): Promise<{ result: T; blockMs: number; ticks: number; ms: number }> {
  let last = performance.now();
  let blockMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    blockMs = Math.max(blockMs, now - last);
    last = now;
    ticks++;
  }, 2);
  const start = performance.now();
  try {
    const result = await work();
    const ms = performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 5)); // let the timer see a final block
    return { result, blockMs: Math.max(blockMs, performance.now() - last), ticks, ms };
  } finally {
    clearInterval(timer);
  }
}

const exportOf = (messages: object[], images: Record<string, { mimeType: string; data: string }> = {}): Buffer =>
  Buffer.from(
    JSON.stringify({
      format: 'firellava-conversation',
      version: 1,
      conversation: { title: 'Big', system: '', params: {}, createdAt: 1, activeKey: null, engineId: null },
      messages,
      images,
    }),
  );
const chain = (n: number): object[] =>
  Array.from({ length: n }, (_, i) => ({ key: i + 1, parentKey: i === 0 ? null : i, role: i % 2 ? 'assistant' : 'user', text: `turn ${i} about teapots`, status: 'complete', createdAt: 1, attachments: [] }));

describe('no freeze', () => {
  it('imports 50,000 messages in linear time, serving other requests between short steps', async () => {
    fresh();
    const other = store.createConversation('Meanwhile');
    const bytes = exportOf(chain(50_000).reverse()); // children listed before parents: the worst order for a rescan
    let served = 0;
    const { result, blockMs, ms } = await longestBlock(async () => {
      const poll = setInterval(() => {
        store.listConversations(); // another request
        served++;
      }, 20);
      try {
        return await importConversation(store, attachments, bytes);
      } finally {
        clearInterval(poll);
      }
    });
    console.log(`import of 50,000 messages: ${ms.toFixed(0)} ms, longest event-loop block ${blockMs.toFixed(0)} ms, ${served} other requests served`);
    expect((store.db.prepare('SELECT count(*) AS n FROM messages WHERE conversation_id = ?').get(result.id) as { n: number }).n).toBe(50_000);
    expect(store.listConversations().map((c) => c.id)).toEqual([result.id, other.id]);
    const leaf = store.db.prepare('SELECT active_leaf_id AS id FROM conversations WHERE id = ?').get(result.id) as { id: number };
    expect(store.message(leaf.id).text).toBe('turn 49999 about teapots');
    // Generous bounds for a loaded 2-core machine; one synchronous transaction took 35–42 s.
    expect(ms).toBeLessThan(60_000);
    expect(blockMs).toBeLessThan(2000); // mostly JSON.parse of the 6 MB file, which cannot be sliced
    expect(served).toBeGreaterThan(10);
  }, 120_000);

  it('an import the trash swallows midway fails clearly and leaves no chat and no images behind', async () => {
    fresh();
    const png = makePng(28, 28, 11).toString('base64');
    const messages = chain(20_000);
    (messages[0] as { attachments: object[] }).attachments = [{ id: 'e'.repeat(64), name: 'x.png' }];
    const importing = importConversation(store, attachments, exportOf(messages, { ['e'.repeat(64)]: { mimeType: 'image/png', data: png } }), { sliceMs: 5 });
    // Empty Trash while the messages are still being written.
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (store.listConversations({ trash: true }).length === 0) return;
        clearInterval(t);
        store.emptyTrash();
        resolve();
      }, 1);
    });
    await expect(importing).rejects.toThrow(/trash was emptied/);
    expect(store.listConversations({ trash: true, limit: 10 })).toEqual([]);
    expect(store.listConversations()).toEqual([]);
    expect(readdirSync(attachments.dir).filter((n) => /^[a-f0-9]{64}\./.test(n))).toEqual([]);
  }, 120_000);

  it('searches four 200 KB messages of one repeated word in well under two seconds', () => {
    fresh();
    const c = store.createConversation('Words');
    for (let i = 0; i < 4; i++) store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'word '.repeat(40_000), status: 'complete' });
    const start = performance.now();
    const hits = store.search('word');
    const ms = performance.now() - start;
    console.log(`search over 4 × 200 KB repeated-word messages: ${ms.toFixed(0)} ms`);
    expect(hits).toHaveLength(4);
    expect(hits[0]!.snippet).toContain('\u0002word\u0003');
    expect(hits[0]!.snippet.length).toBeLessThan(300);
    expect(ms).toBeLessThan(2000); // snippet() over the whole rows: 34 s
  });

  it('finds a live chat behind many newer matches in the trash, and snippets the hit far inside a long message', () => {
    fresh();
    const live = store.createConversation('Live');
    const far = `${'filler text without the term. '.repeat(2000)}the rare aubergine teapot sits here. ${'more filler. '.repeat(100)}`;
    const hit = store.addMessage({ conversationId: live.id, parentId: null, role: 'user', text: far, status: 'complete' });
    const trashed = store.createConversation('Old');
    for (let i = 0; i < 30; i++) store.addMessage({ conversationId: trashed.id, parentId: null, role: 'user', text: `aubergine ${i}`, status: 'complete' });
    store.trash(trashed.id);
    const hits = store.search('aubergine', 5);
    expect(hits.map((h) => h.messageId)).toEqual([hit.id]);
    expect(hits[0]!.snippet).toMatch(/^….*\u0002aubergine\u0003 teapot.*…$/);
  });
});
