import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveAttachmentFile } from '../../electron/attachments/attachment-store';
import { createAppProtocolHandler, PRIVILEGED_SCHEMES, resolveAppRequest } from '../../electron/main/app-protocol';

const ID = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('app:// and firellava-attachment:// resolution', () => {
  const root = path.resolve('/srv/app/dist/renderer');

  it('maps renderer URLs inside the renderer folder', () => {
    expect(resolveAppRequest('app://renderer/index.html', root)).toEqual({ kind: 'renderer', file: path.join(root, 'index.html') });
    expect(resolveAppRequest('app://renderer/', root)).toEqual({ kind: 'renderer', file: path.join(root, 'index.html') });
    expect(resolveAppRequest('app://renderer/assets/index-1.js?x=1', root)).toEqual({ kind: 'renderer', file: path.join(root, 'assets', 'index-1.js') });
  });

  it('refuses path traversal, encoded or not, and other hosts and schemes', () => {
    for (const url of [
      'app://renderer/../../etc/passwd',
      'app://renderer/%2e%2e/%2e%2e/etc/passwd',
      'app://renderer/assets/..%2f..%2f..%2fsecrets.json',
      'app://renderer/..%5c..%5cwindows%5cwin.ini',
      'app://renderer/%00index.html',
      'app://renderer/%E0%A4%A',
      'app://other/index.html',
      'app://user:pw@renderer/index.html',
      'file:///etc/passwd',
      'https://renderer/index.html',
    ]) {
      const r = resolveAppRequest(url, root);
      if (r?.kind === 'renderer') expect(r.file.startsWith(root + path.sep), url).toBe(true);
      else expect(r, url).toBeNull();
    }
    // The WHATWG parser already folds dot segments; whatever is left must stay inside the root.
    expect(resolveAppRequest('app://renderer/../../etc/passwd', root)).toEqual({ kind: 'renderer', file: path.join(root, 'etc', 'passwd') });
  });

  it('accepts only a well-formed attachment id', () => {
    expect(resolveAppRequest(`firellava-attachment://image/${ID}`, root)).toEqual({ kind: 'attachment', id: ID, variant: 'full' });
    expect(resolveAppRequest(`firellava-attachment://image/${ID}/thumb`, root)).toEqual({ kind: 'attachment', id: ID, variant: 'thumb' });
    for (const url of [
      `firellava-attachment://image/${ID.toUpperCase()}`,
      `firellava-attachment://image/${ID}.png`,
      `firellava-attachment://image/${ID}/../../secrets.json`,
      `firellava-attachment://image/%2e%2e%2f${ID}`,
      `firellava-attachment://image/${ID}/thumb/x`,
      `firellava-attachment://other/${ID}`,
      'firellava-attachment://image/../secrets.json',
      'firellava-attachment://image/',
    ]) {
      expect(resolveAppRequest(url, root), url).toBeNull();
    }
  });

  it('registers both schemes as standard and secure; only app:// may fetch', () => {
    expect(PRIVILEGED_SCHEMES).toEqual([
      { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
      { scheme: 'firellava-attachment', privileges: { standard: true, secure: true } },
    ]);
  });
});

describe('protocol handler', () => {
  let tmp: string;
  let rendererRoot: string;
  let attachmentsDir: string;
  let handler: ReturnType<typeof createAppProtocolHandler>;

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-protocol-'));
    rendererRoot = path.join(tmp, 'renderer');
    attachmentsDir = path.join(tmp, 'data', 'attachments');
    mkdirSync(path.join(rendererRoot, 'assets'), { recursive: true });
    mkdirSync(path.join(attachmentsDir, 'thumbs'), { recursive: true });
    writeFileSync(path.join(rendererRoot, 'index.html'), '<!doctype html><title>FireLLaVA</title>');
    writeFileSync(path.join(rendererRoot, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(path.join(tmp, 'data', 'secrets.json'), '{"token":"x"}');
    writeFileSync(path.join(attachmentsDir, `${ID}.png`), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    writeFileSync(path.join(attachmentsDir, 'thumbs', `${ID}.jpg`), Buffer.from([0xff, 0xd8, 0xff]));
    // An attachment that is a symlink out of the folder must not be served.
    symlinkSync(path.join(tmp, 'data', 'secrets.json'), path.join(attachmentsDir, `${OTHER}.png`));
    handler = createAppProtocolHandler({ rendererRoot, attachmentsDir, attachmentFile: (id, variant) => resolveAttachmentFile(attachmentsDir, id, variant) });
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const get = (url: string, method = 'GET') => handler({ url, method });

  it('serves the renderer with the CSP and nosniff on every response', async () => {
    const res = await get('app://renderer/index.html');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>FireLLaVA</title>');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const js = await get('app://renderer/assets/app.js');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('serves stored images and thumbnails by id', async () => {
    const full = await get(`firellava-attachment://image/${ID}`);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('image/png');
    expect([...new Uint8Array(await full.arrayBuffer())]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    const thumb = await get(`firellava-attachment://image/${ID}/thumb`);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
  });

  it('answers 404 for traversal, missing files, folders and symlinks leaving the attachments folder', async () => {
    for (const url of [
      'app://renderer/../data/secrets.json',
      'app://renderer/%2e%2e/data/secrets.json',
      'app://renderer/missing.js',
      'app://renderer/assets',
      `firellava-attachment://image/${OTHER}`,
      `firellava-attachment://image/${'c'.repeat(64)}`,
      'firellava-attachment://image/../data/secrets.json',
    ]) {
      const res = await get(url);
      expect(res.status, url).toBe(404);
      expect(await res.text(), url).toBe('Not found');
    }
  });

  it('refuses methods other than GET and HEAD; HEAD has no body', async () => {
    expect((await get('app://renderer/index.html', 'POST')).status).toBe(405);
    const head = await get('app://renderer/index.html', 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});
