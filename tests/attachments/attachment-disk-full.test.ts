// A full disk while an image is pasted: a clear STORAGE_FULL (507 on /rpc) with a plain message,
// no raw ENOSPC text, and no half-written files left behind.
import { promises as fs, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import { createBackend, type Backend } from '../../electron/backend/backend';
import { startHttpServer, type RunningServer } from '../../electron/server/http-server';
import { createHttpClient } from '../../electron/transport/http-client';
import { writePrivateFile } from '../../electron/store/private-files';
import { FakeEngine } from '../helpers/fake-engine';
import { makePng } from '../helpers/test-images';

const KEY = 'disk-full-test-key-0123456789';
let dir: string;
let server: RunningServer | undefined;
let backend: Backend | undefined;
afterEach(async () => {
  await server?.close();
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The thumbnail is written; the image itself hits a full disk (/dev/full: the kernel's real ENOSPC). */
const fullAtImage = async (target: string, bytes: Uint8Array): Promise<void> => {
  if (target.includes(`${path.sep}thumbs${path.sep}`)) return writePrivateFile(target, bytes);
  if (existsSync('/dev/full')) return fs.writeFile('/dev/full', bytes);
  throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
};

describe('disk full on image paste', () => {
  it('answers 507 STORAGE_FULL with a plain message and leaves no partial files', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-full-'));
    const attachments = createAttachmentStore(dir, { writeFile: fullAtImage });
    backend = createBackend({ dataDir: dir, engine: new FakeEngine(), attachments, app: { name: 'FireLLaVA', version: 'test' } });
    server = await startHttpServer('127.0.0.1', 0, { dispatcher: backend.dispatcher, apiKey: KEY, staticDir: null });

    const client = createHttpClient({ baseUrl: server.origin, apiKey: KEY });
    const r = await client.call('attachments.add', { name: 'paste.png', data: new Uint8Array(makePng(28, 28, 4)) });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('STORAGE_FULL');
    expect(r.error.message).toBe('The disk is full: the image could not be saved. Free some space and try again.');
    expect(r.error.message).not.toMatch(/ENOSPC/);

    const raw = await fetch(`${server.origin}/rpc/attachments.add`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { $bytes: Buffer.from(makePng(28, 28, 5)).toString('base64') } }),
    });
    expect(raw.status).toBe(507);

    // Neither the thumbnail of the failed image nor a temp file stays.
    expect(readdirSync(path.join(dir, 'attachments', 'thumbs'))).toEqual([]);
    expect(readdirSync(path.join(dir, 'attachments')).filter((n) => n !== 'thumbs')).toEqual([]);
  });
});
