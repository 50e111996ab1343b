// The conversation cache in App settings, in Debian Chromium against `firellava serve`: after an
// answer its saved state shows as the cache size (and in the status bar); Clear cache empties it;
// the user sets the cap, sees a wrong one refused, and goes back to the default.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, openChatPage, openNewConversation, type ChatPage } from '../helpers/chat-page';
import { getFixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const SLOW = { timeout: 20_000 };

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('conversation cache in App settings', () => {
  let served: Served;
  let browser: Browser;
  let chat: ChatPage;
  let tmp: string;

  beforeAll(async () => {
    ensureBuilt();
    const fx = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-cache-ui-'));
    served = await startServer(fx.pair, path.join(tmp, 'data'));
    browser = await launchChromium(tmp);
    chat = await openChatPage(browser, served);
  }, 180_000);

  afterAll(async () => {
    await chat?.close();
    await browser?.close();
    if (served && served.child.exitCode === null) expect(await stopServer(served), served.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('shows the saved state as the cache size and cap, and Clear cache deletes it', async () => {
    const page = chat.page;
    await openNewConversation(page, 'Cached chat');
    await ask(page, 'Name a colour');
    const states = () => (existsSync(path.join(tmp, 'data', 'kv-cache')) ? readdirSync(path.join(tmp, 'data', 'kv-cache')).filter((f) => f.endsWith('.state')) : []);
    await expect.poll(() => states().length, SLOW).toBe(1);
    await expect.poll(() => page.getByTestId('engine-slots').textContent(), SLOW).toMatch(/Cache [1-9][\d.]* (KB|MB)/);

    await page.getByRole('button', { name: 'App settings' }).click();
    const section = page.getByRole('region', { name: 'Conversation cache' });
    await expect.poll(() => section.getByTestId('kv-cache-size').textContent(), SLOW).toMatch(/^[1-9][\d.]* (KB|MB) of [1-9][\d.]* (MB|GB)$/);
    await section.getByRole('button', { name: 'Clear cache' }).click();
    await expect.poll(() => section.getByTestId('kv-cache-size').textContent(), SLOW).toMatch(/^0 B of /);
    expect(states()).toEqual([]);
    expect(await section.getByRole('button', { name: 'Clear cache' }).isDisabled()).toBe(true);
    expect(chat.problems.join('\n')).toBe('');
  }, 120_000);

  it('sets the cache cap, refuses one out of range inline, and goes back to the default', async () => {
    const page = chat.page;
    const section = page.getByRole('region', { name: 'Conversation cache' });
    const size = () => section.getByTestId('kv-cache-size').textContent();
    await expect.poll(size, SLOW).toMatch(/ of /);
    const defaultCap = (await size())!.split(' of ')[1];
    const field = section.getByRole('textbox', { name: 'Size cap (GB)' });

    await field.fill('2.5');
    await section.getByRole('button', { name: 'Save' }).click();
    await expect.poll(size, SLOW).toMatch(/ of 2\.5 GB$/);
    expect(await field.inputValue()).toBe('2.5');

    await field.fill('0.1');
    await section.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => section.getByRole('alert').textContent(), SLOW).toMatch(/256 MB to 1 TB/);
    expect(await size()).toMatch(/ of 2\.5 GB$/);

    await section.getByRole('button', { name: 'Default' }).click();
    await expect.poll(size, SLOW).toBe(`0 B of ${defaultCap}`);
    expect(await section.getByRole('alert').count()).toBe(0);
    expect(chat.problems.join('\n')).toBe('');
  }, 60_000);
});
