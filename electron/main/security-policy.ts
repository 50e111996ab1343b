// Pure decisions behind the window hardening: which URLs are ours, which may open in the user's
// browser, which permissions a page gets. No Electron import, so tests call them directly.

export const APP_SCHEME = 'app';
export const APP_HOST = 'renderer';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;
/** Stored images: firellava-attachment://image/<sha256>[/thumb] (renderer/src/lib/attachment-url.ts). */
export const ATTACHMENT_SCHEME = 'firellava-attachment';
export const ATTACHMENT_HOST = 'image';

/** Browsers and mail clients choke on, and phishing pages rely on, absurdly long links. */
const MAX_EXTERNAL_URL_LENGTH = 2048;

function parse(url: unknown): URL | null {
  if (typeof url !== 'string') return null;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** True only for pages of our own renderer (app://renderer/...), never look-alike hosts. */
export function isAppUrl(url: unknown): boolean {
  const u = parse(url);
  return u !== null && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && !u.username && !u.password;
}

/**
 * An http(s) link that may be handed to the OS browser, normalised; null for anything else
 * (file:, javascript:, custom schemes that launch local programs, credentials in the URL).
 */
export function validateExternalUrl(url: unknown): string | null {
  if (typeof url !== 'string' || url.length > MAX_EXTERNAL_URL_LENGTH) return null;
  const u = parse(url);
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) return null;
  if (!u.hostname || u.username || u.password) return null;
  return u.href;
}

export type NavigationDecision = { allow: true } | { allow: false; openExternally: string | null };

/** The app is a single page: it may reload itself; every other navigation is stopped. */
export function decideNavigation(url: string): NavigationDecision {
  if (isAppUrl(url)) return { allow: true };
  return { allow: false, openExternally: validateExternalUrl(url) };
}

/** No new Electron windows ever; safe web links go to the user's browser instead. */
export function decideWindowOpen(url: string): { action: 'deny'; openExternally: string | null } {
  return { action: 'deny', openExternally: validateExternalUrl(url) };
}

/**
 * Permissions our renderer may use. Writing to the clipboard backs "Copy answer"; pasting images
 * goes through the native Edit menu and the DOM paste event, which need no permission.
 */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

export function isPermissionAllowed(permission: string, requestingUrl: string | null | undefined): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && isAppUrl(requestingUrl);
}

/**
 * Downloads the renderer may start: only files it built itself (chat exports as blob: URLs of our
 * own origin). Electron then asks the user where to save. Nothing is fetched from the network.
 */
export function isAllowedDownload(url: unknown): boolean {
  return typeof url === 'string' && url.startsWith(`blob:${APP_ORIGIN}/`) && isAppUrl(url.slice('blob:'.length));
}
