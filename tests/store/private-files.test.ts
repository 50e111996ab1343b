// The data folder is private: other users of a shared machine cannot read chats or images.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../electron/backend/backend';
import { HistoryStore } from '../../electron/store/history-store';
import { FakeEngine } from '../helpers/fake-engine';
import { makePng } from '../helpers/test-images';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
// The usual umask: without the fix, files come out 0644 and folders 0755.
let umask = 0;
beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});
const mode = (p: string): number => statSync(p).mode & 0o777;

/** Every folder and file under root with its mode, for one readable failure message. */
function modes(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string): void => {
    out[path.relative(root, p) || '.'] = mode(p).toString(8);
    if (statSync(p).isDirectory()) for (const n of readdirSync(p)) walk(path.join(p, n));
  };
  walk(root);
  return out;
}

describe.skipIf(process.platform === 'win32')('private data folder', () => {
  it('creates the folder 0700 and the history, its -wal/-shm, images and thumbnails 0600', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'firellava-private-'));
    dirs.push(parent);
    const dataDir = path.join(parent, 'data');
    const backend = createBackend({ dataDir, engine: new FakeEngine(), app: { name: 'FireLLaVA', version: 'test' } });
    try {
      const img = await backend.attachments.add(makePng(28, 28, 3));
      const c = backend.history.createConversation('Private');
      backend.history.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'my secret', status: 'complete', attachments: [{ ...img, name: 'x.png' }] });
      expect(existsSync(path.join(dataDir, 'history.sqlite-wal'))).toBe(true);
      const all = modes(dataDir);
      for (const [p, m] of Object.entries(all)) {
        const isDir = statSync(path.join(dataDir, p)).isDirectory();
        expect(m, `${p}: ${JSON.stringify(all)}`).toBe(isDir ? '700' : '600');
      }
      expect(Object.keys(all)).toEqual(expect.arrayContaining(['history.sqlite', 'history.sqlite-wal', 'history.sqlite-shm', 'attachments', `attachments/${img.id}.png`, `attachments/thumbs/${img.id}.jpg`]));
    } finally {
      await backend.close();
    }
  });

  it('tightens a 0755/0644 layout left by an older version at start, and leaves links alone', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'firellava-private-'));
    dirs.push(parent);
    const dataDir = path.join(parent, 'data');
    // An old layout: everything world-readable.
    const store = HistoryStore.open(path.join(dataDir, 'history.sqlite'));
    store.createConversation('Old');
    store.close();
    mkdirSync(path.join(dataDir, 'attachments', 'thumbs'), { recursive: true });
    writeFileSync(path.join(dataDir, 'attachments', `${'a'.repeat(64)}.png`), 'x');
    writeFileSync(path.join(dataDir, 'attachments', 'thumbs', `${'a'.repeat(64)}.jpg`), 'x');
    writeFileSync(path.join(dataDir, 'window-state.json'), '{}');
    const outside = path.join(parent, 'my-model.gguf');
    writeFileSync(outside, 'weights');
    chmodSync(outside, 0o644);
    symlinkSync(outside, path.join(dataDir, 'models-link.gguf'));
    // Not the app's: a data folder pointed at a shared place keeps other programs' modes.
    writeFileSync(path.join(dataDir, 'run.sh'), '#!/bin/sh\n');
    chmodSync(path.join(dataDir, 'run.sh'), 0o755);
    for (const p of [dataDir, path.join(dataDir, 'attachments'), path.join(dataDir, 'attachments', 'thumbs')]) chmodSync(p, 0o755);
    for (const p of ['history.sqlite', 'window-state.json', `attachments/${'a'.repeat(64)}.png`, `attachments/thumbs/${'a'.repeat(64)}.jpg`]) chmodSync(path.join(dataDir, p), 0o644);

    const backend = createBackend({ dataDir, engine: new FakeEngine(), app: { name: 'FireLLaVA', version: 'test' } });
    try {
      expect(backend.history.listConversations().map((c) => c.title)).toEqual(['Old']);
      expect(mode(dataDir)).toBe(0o700);
      expect(mode(path.join(dataDir, 'attachments'))).toBe(0o700);
      expect(mode(path.join(dataDir, 'attachments', 'thumbs'))).toBe(0o700);
      for (const p of ['history.sqlite', 'history.sqlite-wal', 'history.sqlite-shm', 'window-state.json', `attachments/${'a'.repeat(64)}.png`, `attachments/thumbs/${'a'.repeat(64)}.jpg`]) {
        expect(mode(path.join(dataDir, p)).toString(8), p).toBe('600');
      }
      expect(mode(outside)).toBe(0o644); // the user's own file behind a link is not ours to change
      expect(mode(path.join(dataDir, 'run.sh'))).toBe(0o755);
    } finally {
      await backend.close();
    }
  });
});
