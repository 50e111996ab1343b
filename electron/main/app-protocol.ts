// Custom protocols: the renderer never loads file:// URLs.
// - app://renderer/<path>: the built renderer (dist/renderer, inside app.asar when packaged).
// - firellava-attachment://image/<sha256>[/thumb]: a stored image from the one attachments folder;
//   only a well-formed id reaches the file system, and the file found must really be inside it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CONTENT_SECURITY_POLICY, resolveStaticPath } from '../server/static-files';
import { APP_HOST, APP_SCHEME, ATTACHMENT_HOST, ATTACHMENT_SCHEME } from './security-policy';

const ATTACHMENT_PATH = /^\/([a-f0-9]{64})(\/thumb)?$/;

/**
 * The headless server's CSP plus our attachment scheme for images. Everything else stays as strict:
 * scripts only from the app itself, no eval, no inline code, no remote hosts.
 */
export function electronContentSecurityPolicy(base: string = CONTENT_SECURITY_POLICY): string {
  return base
    .split(';')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => (d.startsWith('img-src ') ? `${d} ${ATTACHMENT_SCHEME}:` : d))
    .join('; ');
}

/** Registered before app 'ready' (protocol.registerSchemesAsPrivileged). */
export const PRIVILEGED_SCHEMES = [
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  { scheme: ATTACHMENT_SCHEME, privileges: { standard: true, secure: true } },
] as const;

export type AppRequest =
  | { kind: 'renderer'; file: string }
  | { kind: 'attachment'; id: string; variant: 'full' | 'thumb' }
  | null;

/** Maps a URL of either scheme to what it names, or null (→ 404). Pure: no disk access. */
export function resolveAppRequest(url: string, rendererRoot: string): AppRequest {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.username || u.password) return null;
  if (u.protocol === `${ATTACHMENT_SCHEME}:`) {
    // Raw path, no decoding: ids are plain hex, so any escaping is an attack.
    const m = u.host === ATTACHMENT_HOST ? ATTACHMENT_PATH.exec(u.pathname) : null;
    return m ? { kind: 'attachment', id: m[1]!, variant: m[2] ? 'thumb' : 'full' } : null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  const file = resolveStaticPath(rendererRoot, u.pathname);
  return file ? { kind: 'renderer', file } : null;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Headers on every response of both schemes. */
export function appResponseHeaders(contentType: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Content-Security-Policy': electronContentSecurityPolicy(),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  };
}

export interface AppProtocolDeps {
  rendererRoot: string;
  /** <userData>/attachments; user-writable, so the file found is re-checked after symlinks. */
  attachmentsDir: string;
  /** Backend.attachmentFile: id → file in the attachments folder, or null. */
  attachmentFile(id: string, variant: 'full' | 'thumb'): Promise<{ path: string; mimeType: string } | null>;
  readFile?(file: string): Promise<Uint8Array>;
  realpath?(file: string): Promise<string>;
}

const notFound = (): Response => new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });

/** The handler for protocol.handle(scheme, …), both schemes; Electron's fs reads inside app.asar. */
export function createAppProtocolHandler(deps: AppProtocolDeps): (request: { url: string; method: string }) => Promise<Response> {
  const readFile = deps.readFile ?? ((f: string) => fs.readFile(f));
  const realpath = deps.realpath ?? ((f: string) => fs.realpath(f));
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('Method not allowed', { status: 405 });
    const resolved = resolveAppRequest(request.url, deps.rendererRoot);
    if (!resolved) return notFound();
    try {
      let file: string;
      let contentType: string;
      if (resolved.kind === 'attachment') {
        const found = await deps.attachmentFile(resolved.id, resolved.variant);
        if (!found) return notFound();
        const [realDir, realFile] = await Promise.all([realpath(deps.attachmentsDir), realpath(found.path)]);
        if (!realFile.startsWith(realDir + path.sep)) return notFound();
        file = realFile;
        contentType = found.mimeType;
      } else {
        // Inside app.asar (read-only, integrity-checked when packaged): lexical checks suffice.
        file = resolved.file;
        contentType = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      }
      const body = await readFile(file);
      return new Response(request.method === 'HEAD' ? null : Buffer.from(body), { status: 200, headers: appResponseHeaders(contentType) });
    } catch {
      return notFound(); // missing file or a directory; never reveal paths
    }
  };
}
