// Issue #13 items 3 and 4 in Debian Chromium against `firellava serve --model X --mmproj Y`: an
// image-only chat is named from its first answer and listed with a thumbnail and a date, exports
// are named after it, the chat shows the model that answers, and the model manager lists the pair.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeFileName, titleFromAnswer } from '../../electron/chat/chat-title';
import { getFixtures, REPO_ROOT, type Fixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const SLOW = { timeout: 30_000 };

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('conversation list and loaded model in Chromium', () => {
  let fixtures: Fixtures;
  let served: Served | undefined;
  let browser: Browser;
  let page: Page;
  let tmp: string;
  const problems: string[] = [];

  const rpc = <T,>(name: string, input: unknown): Promise<{ ok: boolean; value: T }> =>
    page.evaluate(
      async ({ name, input }) => (await fetch(`rpc/${name}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(input) })).json(),
      { name, input },
    );
  const list = () => page.getByRole('navigation', { name: 'Conversations' });

  beforeAll(async () => {
    ensureBuilt();
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-list-e2e-'));
    served = await startServer(fixtures.pair, path.join(tmp, 'data'), ['--cpu']);
    browser = await launchChromium(tmp);
    page = await browser.newPage({ viewport: { width: 1100, height: 800 }, acceptDownloads: true });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    await page.goto(served.url);
    await page.getByRole('status').filter({ hasText: /^Ready/ }).waitFor(SLOW);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    expect(await stopServer(served), served?.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('shows the model that answers: name, quantization and device', async () => {
    const status = await rpc<{ model: { name: string } }>('engine.status', {});
    await expect.poll(() => page.getByTestId('chat-model').textContent(), SLOW).toBe(`Model: ${status.value.model.name} · F32 · CPU`);
  });

  it('names an image-only chat from its first answer and lists it with a thumbnail and a date', async () => {
    const bytes = [...readFileSync(fixtures.images.png32)];
    await page.getByLabel('Message', { exact: true }).evaluate((target, bytes) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
      target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, bytes);
    await page.getByRole('img', { name: 'Attached image image.png' }).waitFor(SLOW);
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('article.assistant').getAttribute('data-status'), SLOW).toBe('complete');

    const [summary] = (await rpc<{ id: string; title: string; imageId: string }[]>('conversations.list', {})).value;
    const view = await rpc<{ messages: { role: string; text: string }[] }>('conversations.get', { id: summary!.id });
    const answer = view.value.messages.find((m) => m.role === 'assistant')!.text;
    expect(summary!.title).toBe(titleFromAnswer(answer));
    expect(summary!.title).not.toBe('Image');

    const item = list().getByRole('button', { name: summary!.title, exact: true });
    await item.waitFor(SLOW);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(summary!.title);
    const thumb = item.getByTestId('conversation-thumb');
    expect(await thumb.getAttribute('src')).toBe(`attachments/${summary!.imageId}/thumb`);
    await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), SLOW).toBe(true);
    expect(await item.locator('time').textContent()).toBe('Just now');
    // The date is the button's description; its name stays the title.
    expect(await item.getAttribute('aria-describedby')).toBe(await item.locator('time').getAttribute('id'));

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export Markdown' }).click();
    expect((await download).suggestedFilename()).toBe(`${safeFileName(summary!.title)}.zip`);

    // Still editable, and the name the user gives stays after the next answer.
    await list().getByRole('button', { name: `Rename ${summary!.title}` }).click();
    await list().getByLabel('New title').fill('Kitchen shelf');
    await list().getByLabel('New title').press('Enter');
    await list().getByRole('button', { name: 'Kitchen shelf', exact: true }).waitFor(SLOW);
    await page.getByLabel('Message', { exact: true }).fill('And the colours?');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('article.assistant').nth(1).getAttribute('data-status'), SLOW).toBe('complete');
    await page.getByRole('button', { name: 'Send' }).waitFor(SLOW);
    expect(await list().getByRole('button', { name: 'Kitchen shelf', exact: true }).count()).toBe(1);
    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'chat-list.png') });
  });

  it('lists the --model pair in the model manager as loaded from the command line, without Delete', async () => {
    await page.getByRole('button', { name: 'Models…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Models' });
    const entry = dialog.getByTestId('command-line-model');
    await entry.waitFor(SLOW);
    expect(await entry.getByRole('heading').textContent()).toBe('Loaded from the command line');
    expect(await entry.textContent()).toContain(path.basename(fixtures.pair.model));
    expect(await entry.textContent()).toContain('Answering');
    expect(await entry.getByRole('button').count()).toBe(0);
    expect(await dialog.getByText('No models installed.', { exact: true }).count()).toBe(0);
    await entry.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'command-line-model.png') });
    expect(problems).toEqual([]);
  });
});
