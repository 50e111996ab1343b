// The desktop app's own-port OpenAI API server: on/off, port, host, key shown and rotated.
import { z } from 'zod';
import { call } from '../contract-kit';

/** Ollama has 11434; the next one is rarely taken and easy to remember. */
export const DEFAULT_API_PORT = 11435;
export const MAX_CORS_ORIGINS = 20;

export interface ApiServerSettings {
  enabled: boolean;
  /** Address to listen on; 127.0.0.1 unless the user chooses otherwise. */
  host: string;
  /** 0 picks a free port at each start (the status says which). */
  port: number;
  /** Browser origins allowed to call the API (CORS); none by default. */
  corsOrigins: string[];
  /** Download http(s) image URLs; off by default (offline-first). */
  fetchImages: boolean;
}

export const DEFAULT_API_SERVER_SETTINGS: ApiServerSettings = { enabled: false, host: '127.0.0.1', port: DEFAULT_API_PORT, corsOrigins: [], fetchImages: false };

export interface ApiServerStatus {
  settings: ApiServerSettings;
  running: boolean;
  /** Where OpenAI clients point (ends in /v1) while running. */
  baseUrl: string | null;
  /** The key, masked ("fl-…a1b2"); revealKey gives the whole key. */
  keyHint: string;
  /** 'memory': no keychain (headless, or none on this system); the key changes at the next start. */
  keyStorage: 'keychain' | 'memory';
  /** Why the server is not running although enabled (port in use, bad address). */
  error: string | null;
  /** Set while the host is reachable from other computers. */
  warning: string | null;
  /** Things worth knowing that need no action now (unreadable settings file set aside, key kept in memory). */
  notices: string[];
  /** Under `firellava serve`, the API is always on at this path of the page's own origin, with the serve key. */
  servedApiPath: string | null;
}

const hostSchema = z
  .string()
  .trim()
  .min(1, 'Enter an address such as 127.0.0.1')
  .max(253)
  .regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/, 'Enter an IP address (127.0.0.1, 0.0.0.0, ::1) or a host name');

const portSchema = z
  .number()
  .int('The port is a whole number')
  .refine((p) => p === 0 || (p >= 1024 && p <= 65535), 'The port is 1024-65535 (or 0 for any free port)');

/** "https://tools.example" exactly: scheme, host and optional port, as browsers send in Origin. */
const originSchema = z
  .string()
  .trim()
  .max(512)
  .transform((value, ctx) => {
    let url: URL | null = null;
    try {
      url = new URL(value);
    } catch {
      url = null;
    }
    const bare = url && (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
    if (!url || !bare || value.replace(/\/$/, '').toLowerCase() !== url.origin.toLowerCase()) {
      ctx.addIssue({ code: 'custom', message: `"${value.slice(0, 80)}" is not an origin: write it as http(s)://host[:port], without a path` });
      return z.NEVER;
    }
    return url.origin;
  });

export const apiServerSettingsPatch = z
  .object({
    enabled: z.boolean(),
    host: hostSchema,
    port: portSchema,
    corsOrigins: z.array(originSchema).max(MAX_CORS_ORIGINS, `At most ${MAX_CORS_ORIGINS} origins`),
    fetchImages: z.boolean(),
  })
  .partial()
  .strict();

export type ApiServerSettingsPatch = z.output<typeof apiServerSettingsPatch>;

export const apiServerContract = {
  'apiServer.status': call<ApiServerStatus>()(z.object({}).strict()),
  /** Saves the given settings, then starts, stops or moves the listener as needed. */
  'apiServer.configure': call<ApiServerStatus>()(apiServerSettingsPatch),
  /** A new key; the old one is refused from the very next request. */
  'apiServer.rotateKey': call<ApiServerStatus>()(z.object({}).strict()),
  /** The whole key, only on this explicit request. */
  'apiServer.revealKey': call<{ key: string }>()(z.object({}).strict()),
} as const;
