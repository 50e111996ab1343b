// Access control for the headless server. Anyone on the machine can reach a loopback port, so
// every request needs the key; the Host check stops DNS-rebinding pages from even trying.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function generateApiKey(): string {
  return randomBytes(24).toString('base64url');
}

export function keysEqual(given: string, expected: string): boolean {
  // Hash first so the comparison is constant-time regardless of length.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Per port, so two servers on 127.0.0.1 (cookies ignore ports) do not overwrite each other's key. */
export const cookieName = (port: number): string => `firellava_key_${port}`;

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/** The key from `Authorization: Bearer` or our cookie; null when neither is present. */
export function presentedKey(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : '';
  }
  const cookie = parseCookies(req.headers.cookie).get(cookieName(req.socket.localPort ?? 0));
  return cookie === undefined ? null : decodeURIComponentSafe(cookie);
}

export function sessionCookie(port: number, key: string): string {
  return `${cookieName(port)}=${encodeURIComponent(key)}; Path=/; HttpOnly; SameSite=Strict`;
}

export const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Hostname of a Host header without port or IPv6 brackets, lowercased; null if malformed. */
export function hostnameOf(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(hostHeader.trim());
  if (!m) return null;
  return (m[1] ?? m[2] ?? '').toLowerCase();
}

/** The Host names both edges (/rpc and /v1) accept: loopback plus the configured ones. */
export function allowedHostSet(extra: readonly string[] = []): ReadonlySet<string> {
  return new Set([...LOOPBACK_HOSTS, ...extra.map((h) => hostnameOf(h) ?? h.toLowerCase())]);
}

export function isAllowedHost(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  const name = hostnameOf(hostHeader);
  return name !== null && allowed.has(name);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return '';
  }
}
