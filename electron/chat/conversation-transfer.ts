// Export a conversation as JSON (every branch, settings and images, for re-import) or as Markdown
// with its image files (the visible branch, for reading and sharing), and import the JSON again.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AttachmentStore } from '../attachments/attachment-store';
import { settingsParams, type ConversationSummary, type MessageView } from '../shared/contracts/conversations';
import type { AttachmentInfo } from '../shared/types';
import { ENGINE_ID } from '../shared/contracts/engines';
import { AppErrorException } from '../shared/errors';
import type { HistoryStore } from '../store/history-store';
import { safeFileName } from './chat-title';
import { writeZip } from './zip-writer';

export const EXPORT_FORMAT = 'firellava-conversation';

const exportedMessage = z.object({
  key: z.number().int(),
  parentKey: z.number().int().nullable(),
  role: z.enum(['user', 'assistant']),
  text: z.string().max(200_000),
  status: z.enum(['complete', 'streaming', 'stopped', 'interrupted', 'error']),
  error: z.string().max(10_000).nullable().default(null),
  createdAt: z.number(),
  attachments: z.array(z.object({ id: z.string().regex(/^[a-f0-9]{64}$/), name: z.string().max(512) })).max(16),
  /** Who wrote the answer (kept as history; engine ids of another machine mean nothing here). */
  engine: z
    .object({ id: z.string().max(64), kind: z.enum(['local', 'remote']), name: z.string().max(80), model: z.string().max(256).nullable() })
    .nullable()
    .default(null),
});

const exportSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  version: z.literal(1),
  conversation: z.object({
    title: z.string().max(200),
    system: z.string().max(20_000),
    // The settings' own bounds; keys this version does not know are dropped.
    params: z.object(settingsParams.shape),
    createdAt: z.number(),
    activeKey: z.number().int().nullable(),
    engineId: z.string().regex(ENGINE_ID).nullable().default(null),
  }),
  messages: z.array(exportedMessage).max(100_000),
  images: z.record(z.string().regex(/^[a-f0-9]{64}$/), z.object({ mimeType: z.string().max(64), data: z.string() })),
});

export type ConversationExport = z.infer<typeof exportSchema>;

/** The same file with its messages left unchecked, so they can be checked a slice at a time. */
const exportEnvelope = exportSchema.extend({ messages: z.array(z.unknown()).max(100_000) });

export interface ExportFile {
  fileName: string;
  mimeType: string;
  data: Uint8Array;
}

export async function exportConversation(store: HistoryStore, attachments: AttachmentStore, id: string, format: 'json' | 'markdown'): Promise<ExportFile> {
  const view = store.getConversation(id);
  const base = safeFileName(view.conversation.title);
  if (format === 'markdown') return exportMarkdown(view.conversation.title, view.messages, attachments, base);
  const all = store.allMessages(id);
  const images: ConversationExport['images'] = {};
  for (const m of all) {
    for (const a of m.attachments) {
      if (images[a.id]) continue;
      const file = await attachments.pathOf(a.id);
      images[a.id] = { mimeType: a.mimeType, data: (await fs.readFile(file)).toString('base64') };
    }
  }
  const doc: ConversationExport = {
    format: EXPORT_FORMAT,
    version: 1,
    conversation: {
      title: view.conversation.title,
      system: view.conversation.system,
      params: view.conversation.params,
      createdAt: view.conversation.createdAt,
      activeKey: view.messages.at(-1)?.id ?? null,
      engineId: view.conversation.engineId,
    },
    messages: all.map((m) => ({
      key: m.id,
      parentKey: m.parentId,
      role: m.role,
      text: m.text,
      status: m.status,
      error: m.error,
      createdAt: m.createdAt,
      attachments: m.attachments.map((a) => ({ id: a.id, name: a.name })),
      engine: m.engine,
    })),
    images,
  };
  return { fileName: `${base}.json`, mimeType: 'application/json', data: Buffer.from(JSON.stringify(doc, null, 1), 'utf8') };
}

async function exportMarkdown(title: string, messages: MessageView[], attachments: AttachmentStore, base: string): Promise<ExportFile> {
  const files: { name: string; data: Uint8Array }[] = [];
  /** attachment id → its file in the zip: named after the conversation and the question it came with. */
  const named = new Map<string, string>();
  const lines = [`# ${title || 'Conversation'}`, '', `_Exported from FireLLaVA on ${new Date().toISOString().slice(0, 10)}._`, ''];
  let turn = 0;
  for (const m of messages) {
    if (m.role === 'user') turn++;
    lines.push(m.role === 'user' ? '## You' : `## Assistant${m.status === 'complete' ? '' : ` (${m.status})`}`, '');
    for (const [i, a] of m.attachments.entries()) {
      let name = named.get(a.id);
      if (!name) {
        const file = await attachments.pathOf(a.id);
        name = `images/${base}-${turn}${m.attachments.length > 1 ? `-${i + 1}` : ''}${path.extname(file)}`;
        named.set(a.id, name);
        files.push({ name, data: await fs.readFile(file) });
      }
      lines.push(`![${(a.name || `${title || 'Conversation'}, image ${turn}`).replace(/[[\]]/g, '')}](${name})`, '');
    }
    lines.push(m.text, '');
  }
  const zip = writeZip([{ name: `${base}.md`, data: Buffer.from(lines.join('\n'), 'utf8') }, ...files]);
  return { fileName: `${base}.zip`, mimeType: 'application/zip', data: zip };
}

/** How long one import step may hold the event loop; other requests are served in between. */
export const IMPORT_SLICE_MS = 25;

/** Recreates an exported conversation as a new one; images go through the attachment checks again. */
export async function importConversation(store: HistoryStore, attachments: AttachmentStore, bytes: Uint8Array, options: { sliceMs?: number } = {}): Promise<ConversationSummary> {
  const sliceMs = options.sliceMs ?? IMPORT_SLICE_MS;
  const doc = await parseExport(bytes, sliceMs);
  // The structure is checked before anything is written: a damaged file leaves nothing behind.
  const order = parentsFirst(doc.messages);
  for (const m of order) {
    for (const a of m.attachments) if (!Object.hasOwn(doc.images, a.id)) throw damaged(`image ${a.id.slice(0, 12)}… is missing`);
  }
  const idMap = new Map<string, AttachmentInfo>();
  const written: string[] = [];
  try {
    for (const [oldId, image] of Object.entries(doc.images)) {
      const { info, created } = await attachments.addNew(Buffer.from(image.data, 'base64'));
      if (created) written.push(info.id);
      idMap.set(oldId, info);
    }
    return await writeImport(store, doc, order, idMap, sliceMs);
  } catch (err) {
    // A refused import takes its images with it (those no other message or photo uses).
    const keep = store.referencedAttachmentIds();
    const orphans = written.filter((id) => !keep.has(id));
    const forget = store.db.prepare('DELETE FROM attachments WHERE id = ? AND id NOT IN (SELECT attachment_id FROM message_attachments)');
    for (const id of orphans) forget.run(id);
    await attachments.discard(orphans);
    throw err;
  }
}

const damaged = (why: string): AppErrorException => new AppErrorException({ code: 'INVALID_INPUT', message: `The export is damaged: ${why}.` });

const notAnExport = (why: string): AppErrorException => new AppErrorException({ code: 'INVALID_INPUT', message: `This file is not a FireLLaVA conversation export (${why}).` });
const issueText = (issue: z.core.$ZodIssue | undefined, prefix: (string | number)[] = []): string =>
  issue ? `${[...prefix, ...issue.path.map(String)].join('.') || 'file'}: ${issue.message}` : 'unknown format';
const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

async function parseExport(bytes: Uint8Array, sliceMs: number): Promise<ConversationExport> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw notAnExport('it is not JSON');
  }
  const envelope = exportEnvelope.safeParse(raw);
  if (!envelope.success) throw notAnExport(issueText(envelope.error.issues[0]));
  // 100,000 messages take about a second to check: in slices, with other requests served between.
  const messages: ExportedMessage[] = [];
  let until = performance.now() + sliceMs;
  for (const [i, item] of envelope.data.messages.entries()) {
    const m = exportedMessage.safeParse(item);
    if (!m.success) throw notAnExport(issueText(m.error.issues[0], ['messages', i]));
    messages.push(m.data);
    if (performance.now() > until) {
      await nextTurn();
      until = performance.now() + sliceMs;
    }
  }
  return { ...envelope.data, messages };
}

type ExportedMessage = ConversationExport['messages'][number];

/** File order, except that a message listed before its parent waits for it: one linear pass. */
export function parentsFirst(messages: readonly ExportedMessage[]): ExportedMessage[] {
  const keys = new Set<number>();
  for (const m of messages) {
    if (keys.has(m.key)) throw damaged(`two messages share the key ${m.key}`);
    keys.add(m.key);
  }
  const placed = new Set<number>();
  const waiting = new Map<number, ExportedMessage[]>();
  const order: ExportedMessage[] = [];
  for (const m of messages) {
    if (m.parentKey !== null && !keys.has(m.parentKey)) throw damaged(`message ${m.key} answers a message that is not in the file`);
    if (m.parentKey !== null && !placed.has(m.parentKey)) {
      const list = waiting.get(m.parentKey) ?? [];
      list.push(m);
      waiting.set(m.parentKey, list);
      continue;
    }
    const stack = [m];
    while (stack.length > 0) {
      const next = stack.pop()!;
      order.push(next);
      placed.add(next.key);
      const children = waiting.get(next.key);
      if (children) {
        waiting.delete(next.key);
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      }
    }
  }
  if (order.length !== messages.length) throw damaged('its messages form a loop');
  return order;
}

/**
 * Writes the messages in short transactions with a yield between them, so a 50,000-message file
 * never holds the event loop for long. The conversation waits in the trash until it is complete,
 * and is removed again if the import fails.
 */
async function writeImport(store: HistoryStore, doc: ConversationExport, order: ExportedMessage[], idMap: Map<string, AttachmentInfo>, sliceMs: number): Promise<ConversationSummary> {
  const { db } = store;
  const conv = db.transaction(() => {
    const c = store.createConversation(doc.conversation.title);
    store.updateSettings(c.id, { system: doc.conversation.system, params: doc.conversation.params });
    // An engine unknown on this machine falls back to the default at the next answer, with a notice.
    if (doc.conversation.engineId) store.setEngine(c.id, doc.conversation.engineId);
    store.trash(c.id);
    return c;
  })();
  const insert = db.prepare(
    'INSERT INTO messages (conversation_id, parent_id, role, text, status, error, engine, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const addAtt = db.prepare('INSERT OR IGNORE INTO attachments (id, mime_type, byte_length, width, height) VALUES (?, ?, ?, ?, ?)');
  const link = db.prepare('INSERT INTO message_attachments (message_id, position, attachment_id, name) VALUES (?, ?, ?, ?)');
  const newId = new Map<number, number>();
  let next = 0;
  const step = db.transaction((until: number) => {
    const t = store.now();
    while (next < order.length && performance.now() < until) {
      const m = order[next++]!;
      const parent = m.parentKey === null ? null : newId.get(m.parentKey)!;
      const status = m.status === 'streaming' ? 'interrupted' : m.status;
      const id = Number(insert.run(conv.id, parent, m.role, m.text, status, m.error, m.engine ? JSON.stringify(m.engine) : null, t, t).lastInsertRowid);
      m.attachments.forEach((a, i) => {
        const info = idMap.get(a.id)!;
        addAtt.run(info.id, info.mimeType, info.byteLength, info.width, info.height);
        link.run(id, i, info.id, a.name);
      });
      newId.set(m.key, id);
    }
  });
  try {
    while (next < order.length) {
      step(performance.now() + sliceMs);
      if (next < order.length) await nextTurn();
    }
    return db.transaction(() => {
      const last = order.length > 0 ? newId.get(order.at(-1)!.key)! : null;
      // image_id: the first image, the list's thumbnail (what addMessage keeps for one message at a time).
      db.prepare(
        `UPDATE conversations SET active_leaf_id = ?, updated_at = ?, deleted_at = NULL, image_id = (
           SELECT ma.attachment_id FROM messages m JOIN message_attachments ma ON ma.message_id = m.id
           WHERE m.conversation_id = conversations.id ORDER BY m.id, ma.position LIMIT 1) WHERE id = ?`,
      ).run(last, store.now(), conv.id);
      const active = doc.conversation.activeKey === null ? undefined : newId.get(doc.conversation.activeKey);
      if (active !== undefined) store.switchVersion(active);
      return store.summary(conv.id);
    })();
  } catch (err) {
    const gone = (db.prepare('SELECT 1 FROM conversations WHERE id = ?').get(conv.id) ?? null) === null;
    db.prepare('DELETE FROM conversations WHERE id = ?').run(conv.id);
    if (gone) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'The trash was emptied while the conversation was being imported; import it again.' });
    throw err;
  }
}
