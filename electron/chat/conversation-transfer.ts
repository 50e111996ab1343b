// Export a conversation as JSON (every branch, settings and images, for re-import) or as Markdown
// with its image files (the visible branch, for reading and sharing), and import the JSON again.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AttachmentStore } from '../attachments/attachment-store';
import { settingsParams, type ConversationSummary, type MessageView } from '../shared/contracts/conversations';
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

/** Recreates an exported conversation as a new one; images go through the attachment checks again. */
export async function importConversation(store: HistoryStore, attachments: AttachmentStore, bytes: Uint8Array): Promise<ConversationSummary> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new AppErrorException({ code: 'INVALID_INPUT', message: 'This file is not a FireLLaVA conversation export (it is not JSON).' });
  }
  const parsed = exportSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppErrorException({
      code: 'INVALID_INPUT',
      message: `This file is not a FireLLaVA conversation export (${issue ? `${issue.path.join('.') || 'file'}: ${issue.message}` : 'unknown format'}).`,
    });
  }
  const doc = parsed.data;
  // Images first: a bad one stops the import before anything is written.
  const idMap = new Map<string, Awaited<ReturnType<AttachmentStore['add']>>>();
  for (const [oldId, image] of Object.entries(doc.images)) idMap.set(oldId, await attachments.add(Buffer.from(image.data, 'base64')));
  const keys = new Set(doc.messages.map((m) => m.key));
  for (const m of doc.messages) {
    if (m.parentKey !== null && !keys.has(m.parentKey)) throw new AppErrorException({ code: 'INVALID_INPUT', message: `The export is damaged: message ${m.key} answers a message that is not in the file.` });
    for (const a of m.attachments) if (!idMap.has(a.id)) throw new AppErrorException({ code: 'INVALID_INPUT', message: `The export is damaged: image ${a.id.slice(0, 12)}… is missing.` });
  }
  return store.db.transaction(() => {
    const conv = store.createConversation(doc.conversation.title);
    store.updateSettings(conv.id, { system: doc.conversation.system, params: doc.conversation.params });
    // An engine unknown on this machine falls back to the default at the next answer, with a notice.
    if (doc.conversation.engineId) store.setEngine(conv.id, doc.conversation.engineId);
    const newId = new Map<number, number>();
    // Parents before children, whatever order the file lists them in.
    const pending = [...doc.messages];
    while (pending.length > 0) {
      const before = pending.length;
      for (let i = 0; i < pending.length; ) {
        const m = pending[i]!;
        if (m.parentKey !== null && !newId.has(m.parentKey)) {
          i++;
          continue;
        }
        const added = store.addMessage({
          conversationId: conv.id,
          parentId: m.parentKey === null ? null : newId.get(m.parentKey)!,
          role: m.role,
          text: m.text,
          status: m.status === 'streaming' ? 'interrupted' : m.status,
          attachments: m.attachments.map((a) => ({ ...idMap.get(a.id)!, name: a.name })),
          engine: m.engine,
        });
        if (m.error) store.finishMessage(added.id, { status: added.status, text: m.text, error: m.error });
        newId.set(m.key, added.id);
        pending.splice(i, 1);
      }
      if (pending.length === before) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'The export is damaged: its messages form a loop.' });
    }
    const active = doc.conversation.activeKey === null ? undefined : newId.get(doc.conversation.activeKey);
    if (active !== undefined) store.switchVersion(active);
    return store.summary(conv.id);
  })();
}
