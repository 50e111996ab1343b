// The one hardening function, applied to every webContents the app creates (main.ts calls it from
// 'web-contents-created'). Structural types: Electron's objects fit (tests/shell/electron-shell-compat.types.ts)
// and tests drive fakes.
import { decideNavigation, decideWindowOpen, isAllowedDownload, isPermissionAllowed } from './security-policy';

interface PreventableEvent {
  preventDefault(): void;
  readonly url?: string;
}

export interface WebContentsLike {
  on(event: 'will-navigate', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-redirect', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' } | { action: 'allow' }): void;
}

export interface SessionLike {
  setPermissionRequestHandler(
    handler: (webContents: unknown, permission: any, callback: (granted: boolean) => void, details: { requestingUrl?: string }) => void,
  ): void;
  setPermissionCheckHandler(handler: (webContents: unknown, permission: any, requestingOrigin: string) => boolean): void;
  setDevicePermissionHandler(handler: (details: unknown) => boolean): void;
  on(event: 'will-download', listener: (event: PreventableEvent, item: { getURL(): string }) => void): unknown;
}

export interface HardeningDeps {
  /** shell.openExternal; only ever called with a URL validateExternalUrl accepted. */
  openExternal(url: string): void;
}

export function hardenWebContents(contents: WebContentsLike, deps: HardeningDeps): void {
  const guard = (event: PreventableEvent, url: string): void => {
    const decision = decideNavigation(event.url ?? url);
    if (decision.allow) return;
    event.preventDefault();
    if (decision.openExternally) deps.openExternal(decision.openExternally);
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const decision = decideWindowOpen(url);
    if (decision.openExternally) deps.openExternal(decision.openExternally);
    return { action: decision.action };
  });
}

/** Once per session: deny every permission except the allowlist, no devices, only our own exports. */
export function hardenSession(session: SessionLike): void {
  session.setPermissionRequestHandler((_wc, permission, callback, details) => {
    callback(isPermissionAllowed(String(permission), details?.requestingUrl));
  });
  // Origins, not URLs, here: 'app://renderer' is what Chromium passes for our pages.
  session.setPermissionCheckHandler((_wc, permission, origin) => isPermissionAllowed(String(permission), origin) || false);
  session.setDevicePermissionHandler(() => false);
  // Chat exports (blob: URLs the page made) may be saved; nothing else. Model downloads run in
  // the backend, not through Chromium.
  session.on('will-download', (event, item) => {
    if (!isAllowedDownload(item.getURL())) event.preventDefault();
  });
}
