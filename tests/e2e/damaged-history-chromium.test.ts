// `firellava serve` on a data folder whose history.sqlite has a damaged header: it starts, prints
// where the damaged file was kept, and the window shows the same notice with the chats recovered.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { HistoryStore } from '../../electron/store/history-store';
import { ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-damaged-'));
const dataDir = path.join(tmp, 'data');
let served: Served | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await stopServer(served);
  rmSync(tmp, { recursive: true, force: true });
});

describe('damaged chat history', () => {
  it('starts, says on stderr and in the window where the damaged file is, and shows the recovered chat', async () => {
    ensureBuilt();
    const store = HistoryStore.open(path.join(dataDir, 'history.sqlite'));
    const c = store.createConversation('Teapot notes');
    store.addMessage({ conversationId: c.id, parentId: null, role: 'user', text: 'a turquoise teapot', status: 'complete' });
    store.close();
    const fd = openSync(path.join(dataDir, 'history.sqlite'), 'r+');
    writeSync(fd, randomBytes(100), 0, 100, 0);
    closeSync(fd);

    served = await startServer(null, dataDir);
    const aside = /kept unchanged as (\S+history\.sqlite\.damaged-\S+?)\./.exec(served.stderr())?.[1];
    expect(aside, served.stderr()).toBeDefined();

    browser = await launchChromium(tmp);
    const page = await browser.newPage();
    await page.goto(served.url);
    await expect.poll(() => page.getByRole('alert').allTextContents(), { timeout: 30_000 }).toEqual([expect.stringContaining(aside!)]);
    expect(await page.getByText('Teapot notes').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Dismiss notice' }).click();
    expect(await page.getByRole('alert').count()).toBe(0);
  }, 120_000);
});
