// Persistent chat: conversations, branching messages, search, trash. Generation calls stream
// ChatEvents while the backend writes the answer to the database as it arrives.
import { z } from 'zod';
import { call, stream } from '../contract-kit';
import { MAX_IMPORT_BYTES, megabytes } from '../limits';
import type { FinishReason, GeneratePhase } from '../types';
import { generationParams } from './chat';
import { engineIdSchema, type AnsweredBy } from './engines';

export type MessageStatus = 'complete' | 'streaming' | 'stopped' | 'interrupted' | 'error';

export interface MessageAttachment {
  id: string;
  name: string;
  mimeType: string;
  width: number;
  height: number;
  byteLength: number;
}

export interface MessageStats {
  finishReason: FinishReason;
  completionTokens: number;
  tokensPerSecond: number;
  ttftMs: number;
  totalMs: number;
}

export interface MessageView {
  id: number;
  conversationId: string;
  parentId: number | null;
  role: 'user' | 'assistant';
  text: string;
  status: MessageStatus;
  error: string | null;
  stats: MessageStats | null;
  createdAt: number;
  updatedAt: number;
  attachments: MessageAttachment[];
  /** The engine that wrote an answer (null for questions and answers from before engines were recorded). */
  engine: AnsweredBy | null;
  /** This message among its siblings (same parent): regenerations and edits. ids are oldest first. */
  versions: { index: number; ids: number[] };
}

export interface ConversationSettings {
  system: string;
  params: { temperature?: number; maxTokens?: number; seed?: number };
}

export interface Preset extends ConversationSettings {
  id: string;
  name: string;
  /** Built-in presets cannot be changed or deleted. */
  builtin: boolean;
}

export interface ConversationSummary {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
  /** The engine chosen for this conversation; null follows the global default. */
  engineId: string | null;
  /** Its first image (an attachment id), shown as the list's thumbnail; null without images. */
  imageId: string | null;
}

export interface ConversationView {
  conversation: ConversationSummary & ConversationSettings;
  /** The visible branch, root first. */
  messages: MessageView[];
}

export interface SearchHit {
  conversationId: string;
  conversationTitle: string;
  messageId: number;
  role: 'user' | 'assistant';
  /** Plain text around the match; the matched words are between \u0002 and \u0003. */
  snippet: string;
  createdAt: number;
}

export type ChatEvent =
  | { type: 'conversation'; conversation: ConversationSummary }
  /** A row was written: the user message, then the assistant message (status streaming). */
  | { type: 'message'; message: MessageView }
  | { type: 'phase'; phase: GeneratePhase }
  | { type: 'image'; attachmentId: string | null; ignoredAttachmentIds: string[] }
  | { type: 'delta'; messageId: number; text: string }
  /** Something the user should know about this answer (e.g. its engine was removed: the default answered). */
  | { type: 'notice'; text: string }
  /** The assistant message in its final state (complete, stopped or error). */
  | { type: 'finished'; message: MessageView };

const conversationId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a conversation id');
const messageId = z.number().int().positive();
const attachmentRef = z
  .object({ id: z.string().regex(/^[a-f0-9]{64}$/, 'not an attachment id'), name: z.string().max(512).default('') })
  .strict();
/** The settings a conversation keeps: the generation bounds, no defaults (absent means the default). */
const { temperature, maxTokens, seed } = generationParams.shape;
export const settingsParams = z.object({ temperature: temperature.unwrap().optional(), maxTokens: maxTokens.unwrap().optional(), seed: seed.unwrap().optional() }).strict();
const messageText = z.string().max(200_000);

export const conversationsContract = {
  'conversations.list': call<ConversationSummary[]>()(
    z.object({ trash: z.boolean().default(false), limit: z.number().int().min(1).max(10_000).default(500) }).strict(),
  ),
  'conversations.create': call<ConversationSummary>()(z.object({ title: z.string().max(200).default('') }).strict()),
  'conversations.get': call<ConversationView>()(z.object({ id: conversationId }).strict()),
  'conversations.rename': call<ConversationSummary>()(z.object({ id: conversationId, title: z.string().trim().min(1).max(200) }).strict()),
  'conversations.settings': call<ConversationView>()(
    z
      .object({
        id: conversationId,
        system: z.string().max(20_000).optional(),
        params: settingsParams.optional(),
        /** null: follow the global default engine. */
        engineId: engineIdSchema.nullable().optional(),
      })
      .strict(),
  ),
  /** Moves to the trash; `conversations.restore` undoes it. */
  'conversations.delete': call<ConversationSummary>()(z.object({ id: conversationId }).strict()),
  'conversations.restore': call<ConversationSummary>()(z.object({ id: conversationId }).strict()),
  /** Deletes trashed conversations for good and removes image files nothing refers to any more. */
  'conversations.emptyTrash': call<{ conversations: number; files: number }>()(z.object({}).strict()),
  'conversations.search': call<SearchHit[]>()(
    z.object({ query: z.string().trim().min(1).max(500), limit: z.number().int().min(1).max(200).default(50) }).strict(),
  ),
  /** Shows another version of a message (and the latest branch below it). */
  'messages.switchVersion': call<ConversationView>()(z.object({ messageId }).strict()),
  /** Adds a user message below `parentId` (default: the end of the visible branch) and streams the answer. */
  'messages.send': stream<ChatEvent>()(
    z
      .object({
        conversationId: conversationId.optional(),
        parentId: messageId.nullable().optional(),
        text: messageText,
        attachments: z.array(attachmentRef).max(16).default([]),
      })
      .strict()
      .refine((v) => v.text.trim() !== '' || v.attachments.length > 0, { message: 'Write a message or attach an image', path: ['text'] }),
  ),
  /** A new answer to the same user message, kept next to the old one as another version. */
  'messages.regenerate': stream<ChatEvent>()(z.object({ messageId }).strict()),
  /** Continues an answer in place (e.g. one cut at Max tokens): the new text streams onto it and is saved. */
  'messages.continue': stream<ChatEvent>()(z.object({ messageId }).strict()),
  /** A new version of a user message, answered afresh; the old version stays reachable. */
  'messages.edit': stream<ChatEvent>()(
    z
      .object({ messageId, text: messageText, attachments: z.array(attachmentRef).max(16).optional() })
      .strict(),
  ),
  /** JSON: every branch, settings and images, for import. Markdown: the visible branch and its images, zipped. */
  'conversations.export': call<{ fileName: string; mimeType: string; data: Uint8Array }>()(
    z.object({ id: conversationId, format: z.enum(['json', 'markdown']) }).strict(),
  ),
  'conversations.import': call<ConversationSummary>()(
    z.object({ data: z.instanceof(Uint8Array).refine((d) => d.byteLength <= MAX_IMPORT_BYTES, { message: `Exports are limited to ${megabytes(MAX_IMPORT_BYTES)}` }) }).strict(),
  ),
  'presets.list': call<Preset[]>()(z.object({}).strict()),
  /** Creates a preset, or replaces the user preset with the same id. */
  'presets.save': call<Preset>()(
    z
      .object({
        id: z.string().regex(/^user-[A-Za-z0-9_-]{1,64}$/).optional(),
        name: z.string().trim().min(1).max(80),
        system: z.string().max(20_000),
        params: settingsParams.default({}),
      })
      .strict(),
  ),
  'presets.delete': call<{ deleted: boolean }>()(z.object({ id: z.string().regex(/^user-[A-Za-z0-9_-]{1,64}$/, 'built-in presets cannot be deleted') }).strict()),
  /** Stops the answer being written in a conversation, whichever client started it. */
  'messages.stop': call<{ stopped: boolean }>()(z.object({ conversationId }).strict()),
} as const;
