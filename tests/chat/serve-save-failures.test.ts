// `firellava serve` (real engine, a generated model slow enough to act mid-answer, a real SQLite
// file) while its saves fail: a real SQLITE_FULL (max_page_count on the server's own connection, set
// by tests/helpers/storage-faults-preload.cjs on command: no root or small filesystem needed) and a
// write lock held by a second connection. The server keeps answering, the stream ends with the whole
// text, the user is told, and the answer is saved in full once writing works again. Then the process
// policy (electron/backend/fault-policy.ts): what a stray error does to the whole server.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractClient } from '../../electron/shared/client';
import type { ChatEvent, MessageView } from '../../electron/shared/contracts/conversations';
import { createHttpClient } from '../../electron/transport/http-client';
import { fillMessagesPage } from '../helpers/fill-database';
import { ensureBuilt, getSlowPair, startServer, stopServer, type Served } from '../helpers/serve';

const PRELOAD = path.join(__dirname, '..', 'helpers', 'storage-faults-preload.cjs');
let tmp: string;
let served: Served;
let client: ContractClient;
let file: string;

beforeAll(async () => {
  ensureBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-serve-save-'));
  served = await startServer(await getSlowPair(), path.join(tmp, 'data'), [], {}, { args: ['--require', PRELOAD], ipc: true });
  client = createHttpClient({ baseUrl: served.origin, apiKey: served.key });
  file = path.join(tmp, 'data', 'history.sqlite');
  await until(async () => {
    const status = await client.call('engine.status', {});
    return status.ok && status.value.state === 'ready';
  }, 60_000);
}, 90_000);
afterAll(async () => {
  await stopServer(served);
  rmSync(tmp, { recursive: true, force: true });
});

async function until(ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function fault(m: { fault: string; code?: string }): Promise<void> {
  return new Promise((resolve) => {
    const onReply = (reply: { fault?: string }): void => {
      if (reply.fault !== m.fault) return;
      served.child.off('message', onReply);
      resolve();
    };
    served.child.on('message', onReply);
    served.child.send(m);
  });
}

async function newChat(): Promise<string> {
  const c = await client.call('conversations.create', { title: 'Story' });
  if (!c.ok) throw new Error(c.error.message);
  expect((await client.call('conversations.settings', { id: c.value.id, params: { maxTokens: 80, temperature: 0, seed: 7 } })).ok).toBe(true);
  return c.value.id;
}

/** Streams an answer; onAssistant runs (awaited, the stream paused meanwhile is fine) once its row exists. */
async function answer(conversationId: string, onAssistant: (id: number) => Promise<void>): Promise<{ events: ChatEvent[]; ok: boolean }> {
  const events: ChatEvent[] = [];
  let hook: Promise<void> = Promise.resolve();
  const handle = client.stream('messages.send', { conversationId, text: 'Tell a long story', attachments: [] }, (e) => {
    events.push(e);
    if (e.type === 'message' && e.message.role === 'assistant') hook = onAssistant(e.message.id);
  });
  const done = await handle.done;
  await hook;
  return { events, ok: done.ok };
}

async function saved(conversationId: string, id: number): Promise<MessageView> {
  const view = await client.call('conversations.get', { id: conversationId });
  if (!view.ok) throw new Error(view.error.message);
  return view.value.messages.find((m) => m.id === id)!;
}

const finishedOf = (events: ChatEvent[]): MessageView => {
  const fin = events.find((e) => e.type === 'finished');
  if (fin?.type !== 'finished') throw new Error(`no finished event: ${JSON.stringify(events.filter((e) => e.type !== 'delta'))}`);
  return fin.message;
};
const noticesOf = (events: ChatEvent[]): string[] => events.flatMap((e) => (e.type === 'notice' ? [e.text] : []));
const streamedText = (events: ChatEvent[]): string => events.map((e) => (e.type === 'delta' ? e.text : '')).join('');

describe('firellava serve when saving fails mid-answer', () => {
  it('disk full (SQLITE_FULL): the stream ends with the text, the user is told, the server runs on, and the answer is saved once space returns', async () => {
    const conversationId = await newChat();
    const other = new Database(file);
    let assistantId = 0;
    try {
      const { events, ok } = await answer(conversationId, async (id) => {
        assistantId = id;
        // About 80 bytes left in the page that holds the messages: the answer must grow the file,
        // and from here on the server may not add a single page.
        fillMessagesPage(other, 80);
        await fault({ fault: 'disk-full' });
      });
      expect(ok).toBe(true);
      const fin = finishedOf(events);
      expect(fin.text.length).toBeGreaterThan(60);
      expect(fin.text).toBe(streamedText(events));
      expect(noticesOf(events).some((n) => /^Disk full: answer kept, not yet saved/.test(n))).toBe(true);
      // Not on disk in full yet, and the server still answers.
      expect((await saved(conversationId, assistantId)).text.length).toBeLessThan(fin.text.length);
      expect((await client.call('app.info', {})).ok).toBe(true);
      expect(served.child.exitCode).toBeNull();

      await fault({ fault: 'space' });
      await until(async () => (await saved(conversationId, assistantId)).status === 'complete');
      expect((await saved(conversationId, assistantId)).text).toBe(fin.text);
    } finally {
      other.close();
    }
  }, 90_000);

  it('a write lock held by another program: no request waits the 5 s busy timeout, and the answer is saved when the lock goes', async () => {
    const conversationId = await newChat();
    const other = new Database(file);
    let assistantId = 0;
    const pings: number[] = [];
    let locked = true;
    try {
      const { events, ok } = await answer(conversationId, async (id) => {
        assistantId = id;
        other.exec('BEGIN IMMEDIATE'); // a backup tool holding the write lock
        void (async () => {
          while (locked) {
            const t = Date.now();
            await client.call('app.info', {});
            pings.push(Date.now() - t);
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
      });
      expect(ok).toBe(true);
      const fin = finishedOf(events);
      expect(fin.status).toBe('complete');
      expect(fin.text).toBe(streamedText(events));
      expect(noticesOf(events)).toContain('The chat history is locked by another program: answer kept, not yet saved; retrying.');
      // Reads go on while the lock is held, and nothing froze the event loop for the busy timeout.
      expect((await saved(conversationId, assistantId)).status).toBe('streaming');
      expect(pings.length).toBeGreaterThan(5);
      expect(Math.max(...pings)).toBeLessThan(1500);

      locked = false;
      other.exec('COMMIT');
      await until(async () => (await saved(conversationId, assistantId)).status === 'complete');
      expect((await saved(conversationId, assistantId)).text).toBe(fin.text);
    } finally {
      locked = false;
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  }, 90_000);

  it('a stray storage error or rejected promise is logged and the server runs on; a bug (TypeError thrown from a timer) ends it with a clear line', async () => {
    await fault({ fault: 'throw', code: 'SQLITE_FULL' });
    await fault({ fault: 'reject' });
    await until(() => /unhandled promise rejection, kept running/.test(served.stderr()));
    expect(served.stderr()).toMatch(/firellava serve: uncaught exception, kept running \(STORAGE_FULL: nothing lost, the chat retries its saves\): Error: injected SQLITE_FULL/);
    expect((await client.call('app.info', {})).ok).toBe(true);
    expect(served.child.exitCode).toBeNull();

    const exited = new Promise<number | null>((resolve) => served.child.once('exit', (code) => resolve(code)));
    served.child.send({ fault: 'throw', code: 'ERR_SOMETHING_UNEXPECTED' });
    expect(await exited).toBe(70);
    expect(served.stderr()).toMatch(/firellava serve: fatal uncaught exception, exiting with code 70 .*: Error: injected ERR_SOMETHING_UNEXPECTED/);
  }, 60_000);
});
