// The default preset of new chats in Debian Chromium against `firellava serve` (generated model):
// save a preset, make it the default in App settings, see a new chat start with it (before and
// after its first message), rename it (still the default), delete it: the next new chat has none.
// A server of its own: a default preset would change the chats of other files' tests.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, openChatPage, rpc, waitReady, type ChatPage } from '../helpers/chat-page';
import { getFixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

/** The machine is shared and loaded: UI round trips can take seconds. */
const SLOW = { timeout: 20_000 };
const PROMPT = 'Name only the colours you see.';

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('default preset for new chats in Chromium', () => {
  let served: Served;
  let browser: Browser;
  let tmp: string;
  let chat: ChatPage;
  let page: Page;

  beforeAll(async () => {
    ensureBuilt();
    const fx = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-preset-e2e-'));
    served = await startServer(fx.pair, path.join(tmp, 'data'));
    browser = await launchChromium(tmp);
    chat = await openChatPage(browser, served);
    page = chat.page;
  }, 180_000);

  afterAll(async () => {
    const problems = chat?.problems ?? [];
    await chat?.close();
    await browser?.close();
    expect(await stopServer(served), served?.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    expect(problems, 'script errors or CSP violations').toEqual([]);
  });

  const panel = () => page.getByRole('region', { name: 'Conversation settings' });
  const openChatSettings = async (): Promise<void> => {
    await page.getByRole('button', { name: 'Chat settings' }).click();
    await panel().waitFor(SLOW);
  };
  const closeChatSettings = async (): Promise<void> => {
    await panel().getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => panel().count(), SLOW).toBe(0);
  };
  const appSettings = () => page.getByRole('region', { name: 'Presets' });
  const openAppSettings = async (): Promise<void> => {
    await page.getByRole('button', { name: 'App settings' }).click();
    await appSettings().waitFor(SLOW);
  };
  const closeAppSettings = async (): Promise<void> => {
    await page.getByRole('dialog', { name: 'App settings' }).getByRole('button', { name: 'Close', exact: true }).click();
    await expect.poll(() => page.getByRole('dialog', { name: 'App settings' }).count(), SLOW).toBe(0);
  };
  /** Opens the newest chat after a reload, so what Chat settings shows is what the server saved. */
  const reopenNewest = async (): Promise<void> => {
    const list = await rpc<{ id: string; title: string }[]>(page, 'conversations.list', {});
    const newest = list.value[0]!;
    await page.reload();
    await waitReady(page);
    await page.getByRole('button', { name: newest.title, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: newest.title }).waitFor(SLOW);
  };

  it('a new chat starts with the default preset; renaming keeps it, deleting it leaves new chats with none', async () => {
    // Save a preset of one's own from Chat settings.
    await openChatSettings();
    await panel().getByLabel('System prompt').fill(PROMPT);
    await panel().getByLabel('Max tokens').fill('6');
    await panel().getByLabel('Preset name').fill('Colours');
    await panel().getByRole('button', { name: 'Save as preset' }).click();
    await expect.poll(() => panel().getByLabel('Preset', { exact: true }).locator('option', { hasText: 'Colours (yours)' }).count(), SLOW).toBe(1);
    expect(await panel().textContent()).toContain('New chats start with no preset.');
    await closeChatSettings();

    // Make it the default in App settings.
    await openAppSettings();
    const chooser = appSettings().getByLabel('Default preset for new chats');
    expect(await chooser.inputValue()).toBe('');
    await chooser.selectOption({ label: 'Colours (yours)' });
    await expect.poll(() => appSettings().getByRole('listitem').filter({ hasText: 'New chats' }).count(), SLOW).toBe(1);
    await closeAppSettings();

    // A new chat, not saved yet: Chat settings shows the preset; its first message saves the chat with it.
    await page.getByRole('button', { name: '+ New chat' }).click();
    await openChatSettings();
    expect(await panel().getByLabel('System prompt').inputValue()).toBe(PROMPT);
    expect(await panel().getByLabel('Max tokens').inputValue()).toBe('6');
    expect(await panel().textContent()).toContain('New chats start with Colours.');
    await closeChatSettings();
    await ask(page, 'What is in the picture?');
    expect((await page.locator('article.assistant').last().textContent())?.length).toBeGreaterThan(0);
    await reopenNewest();
    await openChatSettings();
    expect(await panel().getByLabel('System prompt').inputValue()).toBe(PROMPT);
    expect(await panel().getByLabel('Max tokens').inputValue()).toBe('6');
    await closeChatSettings();

    // Renamed, it is still the default.
    await openAppSettings();
    await appSettings().getByRole('button', { name: 'Rename preset Colours' }).click();
    await appSettings().getByLabel('New name for Colours').fill('Colours only');
    await appSettings().getByRole('button', { name: 'Save name' }).click();
    await expect.poll(() => appSettings().getByLabel('Default preset for new chats').locator('option:checked').textContent(), SLOW).toBe('Colours only (yours)');

    // Opened the moment the app starts, while the presets are still on their way (held back here),
    // Chat settings of a new chat waits for them instead of showing empty fields.
    let release = (): void => {};
    const held = new Promise<void>((r) => (release = r));
    await page.route('**/rpc/presets.getDefault', async (route) => {
      await held;
      await route.continue();
    });
    await page.reload();
    await page.getByRole('button', { name: 'Chat settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Loading presets' }).waitFor(SLOW);
    expect(await panel().count()).toBe(0);
    release();
    await panel().waitFor(SLOW);
    expect(await panel().getByLabel('System prompt').inputValue()).toBe(PROMPT);
    await page.unroute('**/rpc/presets.getDefault');
    await closeChatSettings();

    // Deleted: no default, no error, and the next new chat has no system prompt.
    await openAppSettings();
    await appSettings().getByRole('button', { name: 'Delete preset Colours only' }).click();
    await expect.poll(() => appSettings().getByLabel('Default preset for new chats').inputValue(), SLOW).toBe('');
    expect(await appSettings().getByRole('alert').count()).toBe(0);
    await closeAppSettings();
    await page.getByRole('button', { name: '+ New chat' }).click();
    await openChatSettings();
    expect(await panel().getByLabel('System prompt').inputValue()).toBe('');
    expect(await panel().textContent()).toContain('New chats start with no preset.');
    await closeChatSettings();
    await ask(page, 'And this one?');
    await reopenNewest();
    await openChatSettings();
    expect(await panel().getByLabel('System prompt').inputValue()).toBe('');
    expect(await panel().getByLabel('Max tokens').inputValue()).toBe('');
    await closeChatSettings();
  }, 240_000);
});
