// Engines the chat can use: the local one and remote OpenAI-compatible endpoints, globally or per conversation.
// Keys go in and never come back: the renderer only learns whether one is saved.
import { z } from 'zod';
import { call } from '../contract-kit';

/** 'local' or a remote engine's id (lowercase: it doubles as the secret name 'remote.<id>'). */
export const ENGINE_ID = /^(local|r[a-z0-9]{4,32})$/;
export const engineIdSchema = z.string().regex(ENGINE_ID, 'not an engine id');
const remoteIdSchema = z.string().regex(/^r[a-z0-9]{4,32}$/, 'not a remote engine id');

export interface EngineEntry {
  id: string;
  kind: 'local' | 'remote';
  name: string;
  /** Remote only: e.g. https://api.fireworks.ai/inference/v1. */
  baseUrl: string | null;
  /** Remote: the model name sent with each request; local: the loaded model, if any. */
  model: string | null;
  /** Remote only: whether llama.cpp/vLLM's top_k is sent (off for servers that refuse it). */
  sendTopK: boolean;
  /** Remote only: a key is stored for it (the key itself never leaves the backend). */
  keySaved: boolean;
  /** Remote only: added without a key (a server without authentication, e.g. a local vLLM). */
  keyless: boolean;
}

export interface EngineList {
  /** The engine of conversations that have not chosen one. */
  defaultEngineId: string;
  /** 'memory': no keychain (headless server): keys last until the process ends. */
  keyStorage: 'keychain' | 'memory';
  engines: EngineEntry[];
  /** A problem with the saved configuration (e.g. a damaged engines.json set aside), in words. */
  problem: string | null;
}

export interface EngineTestResult {
  ok: boolean;
  /** What happened, in words: "Connected: …" or why not. */
  message: string;
  /** Model names the endpoint lists (GET /models). */
  models: string[];
}

/** Who wrote an answer; stored with each assistant message. */
export interface AnsweredBy {
  id: string;
  kind: 'local' | 'remote';
  name: string;
  model: string | null;
}

const httpUrl = z
  .string()
  .trim()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL, e.g. https://api.fireworks.ai/inference/v1');
const name = z.string().trim().min(1).max(80);
const model = z.string().trim().min(1).max(256);
/** A bearer token: one line, no spaces (a pasted key with a stray newline fails here, not at the server). */
const key = z.string().trim().min(1).max(8192).regex(/^[\x21-\x7e]+$/, 'must be printable characters without spaces');

export const enginesContract = {
  'engines.list': call<EngineList>()(z.object({}).strict()),
  /** Without a key: the server needs none (requests carry no Authorization header). */
  'engines.addRemote': call<EngineEntry>()(z.object({ name, baseUrl: httpUrl, model, key: key.optional(), sendTopK: z.boolean().default(true) }).strict()),
  /** Changes what is given; a key replaces the saved one. */
  'engines.updateRemote': call<EngineEntry>()(
    z.object({ id: remoteIdSchema, name: name.optional(), baseUrl: httpUrl.optional(), model: model.optional(), key: key.optional(), sendTopK: z.boolean().optional() }).strict(),
  ),
  /** Conversations that used it fall back to the default engine. */
  'engines.removeRemote': call<EngineList>()(z.object({ id: remoteIdSchema }).strict()),
  /** GET {baseUrl}/models with the key: a saved engine (id), or unsaved values from the add form. */
  'engines.test': call<EngineTestResult>()(
    z
      .object({ id: remoteIdSchema.optional(), baseUrl: httpUrl.optional(), key: key.optional(), model: model.optional() })
      .strict()
      .refine((v) => v.id !== undefined || v.baseUrl !== undefined, { message: 'Give a saved engine or a base URL to test', path: ['baseUrl'] }),
  ),
  'engines.setDefault': call<EngineList>()(z.object({ id: engineIdSchema }).strict()),
} as const;
