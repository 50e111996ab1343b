import { describe, expect, it } from 'vitest';
import { electronContentSecurityPolicy } from '../../electron/main/app-protocol';
import { decideNavigation, decideWindowOpen, isAllowedDownload, isAppUrl, isPermissionAllowed, validateExternalUrl } from '../../electron/main/security-policy';
import { hardenSession, hardenWebContents, type SessionLike, type WebContentsLike } from '../../electron/main/window-hardening';
import { createMainWindowOptions, secureWebPreferences } from '../../electron/main/window-options';

describe('URL policy', () => {
  it('recognises only our own renderer as the app', () => {
    for (const url of ['app://renderer/index.html', 'app://renderer/', 'app://renderer/assets/x.js?v=1#top']) expect(isAppUrl(url), url).toBe(true);
    for (const url of ['app://renderer.evil/index.html', 'app://evil/renderer', 'app://user:pw@renderer/', 'https://renderer/', 'file:///app/renderer/index.html', 'firellava-attachment://image/x', '', 'not a url', null, 42]) {
      expect(isAppUrl(url), String(url)).toBe(false);
    }
  });

  it('hands only plain http(s) links to the browser', () => {
    expect(validateExternalUrl('https://huggingface.co/fireworks-ai/FireLLaVA-13b')).toBe('https://huggingface.co/fireworks-ai/FireLLaVA-13b');
    expect(validateExternalUrl('HTTP://Example.COM')).toBe('http://example.com/');
    for (const url of ['javascript:alert(1)', 'file:///etc/passwd', 'smb://host/share', 'ms-msdt:/id', 'vscode://x', 'https://user:pw@example.com/', 'https://', `https://example.com/${'a'.repeat(2100)}`, 'data:text/html,hi']) {
      expect(validateExternalUrl(url), url.slice(0, 40)).toBeNull();
    }
  });

  it('blocks navigation away from the app and opens safe links externally instead', () => {
    expect(decideNavigation('app://renderer/index.html')).toEqual({ allow: true });
    expect(decideNavigation('https://example.com/a')).toEqual({ allow: false, openExternally: 'https://example.com/a' });
    expect(decideNavigation('file:///etc/passwd')).toEqual({ allow: false, openExternally: null });
    expect(decideWindowOpen('https://example.com/')).toEqual({ action: 'deny', openExternally: 'https://example.com/' });
    expect(decideWindowOpen('app://renderer/index.html')).toEqual({ action: 'deny', openExternally: null });
  });

  it('grants clipboard writes to our pages only, and nothing else to anyone', () => {
    expect(isPermissionAllowed('clipboard-sanitized-write', 'app://renderer/index.html')).toBe(true);
    expect(isPermissionAllowed('clipboard-sanitized-write', 'https://evil.example/')).toBe(false);
    for (const p of ['clipboard-read', 'media', 'geolocation', 'notifications', 'openExternal', 'fileSystem', 'hid', 'usb', 'serial']) {
      expect(isPermissionAllowed(p, 'app://renderer/index.html'), p).toBe(false);
    }
    expect(isPermissionAllowed('clipboard-sanitized-write', undefined)).toBe(false);
  });

  it('lets the page save only files it made itself (chat exports as blob: URLs of our origin)', () => {
    expect(isAllowedDownload('blob:app://renderer/6f1c2b0e-1a2b-4c3d-9e8f-0a1b2c3d4e5f')).toBe(true);
    for (const url of ['https://evil.example/payload.exe', 'blob:https://evil.example/6f1c', 'blob:app://renderer.evil/6f1c', 'data:application/octet-stream,MZ', 'file:///etc/passwd', 'app://renderer/index.html', null]) {
      expect(isAllowedDownload(url), String(url)).toBe(false);
    }
  });
});

/** A webContents fake that records handlers so the test can fire events like Chromium would. */
function fakeWebContents() {
  const listeners = new Map<string, ((...args: any[]) => void)[]>();
  let openHandler: ((d: { url: string }) => { action: string }) | null = null;
  const contents: WebContentsLike = {
    on: ((event: string, listener: (...args: any[]) => void) => {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    }) as WebContentsLike['on'],
    setWindowOpenHandler: (h) => void (openHandler = h),
  };
  const fire = (event: string, url: string) => {
    let prevented = false;
    for (const l of listeners.get(event) ?? []) l({ preventDefault: () => (prevented = true), url }, url);
    return prevented;
  };
  return { contents, fire, open: (url: string) => openHandler!({ url }) };
}

describe('hardenWebContents', () => {
  it('stops navigation and redirects off the app, opening only safe links externally', () => {
    const opened: string[] = [];
    const wc = fakeWebContents();
    hardenWebContents(wc.contents, { openExternal: (u) => opened.push(u) });
    expect(wc.fire('will-navigate', 'app://renderer/index.html')).toBe(false);
    expect(wc.fire('will-navigate', 'https://example.com/docs')).toBe(true);
    expect(wc.fire('will-redirect', 'https://evil.example/')).toBe(true);
    expect(wc.fire('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(wc.fire('will-attach-webview', 'app://renderer/index.html')).toBe(true);
    expect(opened).toEqual(['https://example.com/docs', 'https://evil.example/']);
  });

  it('never opens a new window', () => {
    const opened: string[] = [];
    const wc = fakeWebContents();
    hardenWebContents(wc.contents, { openExternal: (u) => opened.push(u) });
    expect(wc.open('https://example.com/')).toEqual({ action: 'deny' });
    expect(wc.open('app://renderer/index.html')).toEqual({ action: 'deny' });
    expect(wc.open('javascript:alert(1)')).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://example.com/']);
  });
});

describe('hardenSession', () => {
  it('answers permission requests and checks from the allowlist, denies devices and foreign downloads', () => {
    let request: Parameters<SessionLike['setPermissionRequestHandler']>[0] | null = null;
    let check: Parameters<SessionLike['setPermissionCheckHandler']>[0] | null = null;
    let device: ((d: unknown) => boolean) | null = null;
    let download: ((e: { preventDefault(): void }, item: { getURL(): string }) => void) | null = null;
    hardenSession({
      setPermissionRequestHandler: (h) => void (request = h),
      setPermissionCheckHandler: (h) => void (check = h),
      setDevicePermissionHandler: (h) => void (device = h),
      on: (_e: 'will-download', l: (e: { preventDefault(): void }, item: { getURL(): string }) => void) => void (download = l),
    });
    const ask = (permission: string, requestingUrl: string) => {
      let granted: boolean | null = null;
      request!({}, permission, (g) => (granted = g), { requestingUrl });
      return granted;
    };
    expect(ask('clipboard-sanitized-write', 'app://renderer/index.html')).toBe(true);
    expect(ask('media', 'app://renderer/index.html')).toBe(false);
    expect(ask('clipboard-sanitized-write', 'https://evil.example/')).toBe(false);
    expect(check!({}, 'clipboard-sanitized-write', 'app://renderer')).toBe(true);
    expect(check!({}, 'geolocation', 'app://renderer')).toBe(false);
    expect(device!({})).toBe(false);
    const blocked = (url: string) => {
      let prevented = false;
      download!({ preventDefault: () => (prevented = true) }, { getURL: () => url });
      return prevented;
    };
    expect(blocked('https://evil.example/payload.exe')).toBe(true);
    expect(blocked('blob:app://renderer/6f1c2b0e-1a2b-4c3d-9e8f-0a1b2c3d4e5f')).toBe(false);
  });
});

describe('window options', () => {
  it('are locked down: isolated, sandboxed, no Node, web security on', () => {
    const options = createMainWindowOptions({ preload: '/app/dist/preload/preload.cjs', bounds: { width: 1000, height: 700 }, platform: 'darwin', devTools: false, backgroundColor: '#ffffff' });
    expect(options.webPreferences).toMatchObject({
      preload: '/app/dist/preload/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      devTools: false,
    });
    expect(options).toMatchObject({ width: 1000, height: 700, show: false, minWidth: 640, minHeight: 480 });
    expect(options).not.toHaveProperty('x');
    expect(options).not.toHaveProperty('icon');
    expect(secureWebPreferences('/p')).toEqual({ ...options.webPreferences, preload: '/p', devTools: true });
  });

  it('use the remembered position and the Linux icon', () => {
    const options = createMainWindowOptions({ preload: '/p', bounds: { x: 10, y: 20, width: 900, height: 600 }, platform: 'linux', icon: '/icon.png', devTools: true, backgroundColor: '#ffffff' });
    expect(options).toMatchObject({ x: 10, y: 20, icon: '/icon.png' });
  });
});

describe('Content-Security-Policy', () => {
  const csp = electronContentSecurityPolicy();
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));

  it('allows scripts only from the app: no eval, no inline, no remote hosts', () => {
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(csp).not.toMatch(/unsafe-eval|unsafe-inline|wasm-unsafe-eval|https?:|\*/);
    expect(directives.get('object-src') ?? directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
  });

  it('loads images only from the app, the attachment protocol, blob: and data:', () => {
    expect(directives.get('img-src')).toEqual(["'self'", 'blob:', 'data:', 'firellava-attachment:']);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
  });
});
