// A remote engine from the UI, in Debian Chromium: `firellava serve` with the tiny models, and as
// the "remote" that same server's own OpenAI-compatible /v1 with the serve key. Add it in App
// settings (test first), choose it for a conversation, send an image and see the streamed answer
// labelled as remote. Each test opens its own page; the engines it added are removed after it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ask, openChatPage, openNewConversation, rpc, type ChatPage } from '../helpers/chat-page';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

/** The machine is shared and loaded: UI round trips can take seconds. */
const SLOW = { timeout: 20_000 };

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('remote engine in Chromium', () => {
  let fixtures: Fixtures;
  let served: Served;
  let browser: Browser;
  let chat: ChatPage;
  let page: Page;
  let tmp: string;

  /** The serve instance's own /v1 as a remote engine, added without the UI. */
  const addLoopback = async (model = 'firellava'): Promise<string> => {
    const added = await rpc(page, 'engines.addRemote', { name: 'Loopback FireLLaVA', baseUrl: `${served.origin}/v1`, model, key: served.key });
    expect(added.ok, added.error?.message).toBe(true);
    return added.value.id!;
  };

  beforeAll(async () => {
    ensureBuilt();
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-remote-ui-'));
    served = await startServer(fixtures.pair, path.join(tmp, 'data'));
    browser = await launchChromium(tmp);
  });

  beforeEach(async () => {
    chat = await openChatPage(browser, served, { viewport: { width: 1280, height: 720 }, ready: false });
    page = chat.page;
  }, 90_000);

  afterEach(async () => {
    const problems = chat?.problems ?? [];
    const list = await rpc<{ engines: { id: string; kind: string }[] }>(page, 'engines.list', {});
    await rpc(page, 'engines.setDefault', { id: 'local' });
    for (const e of list.value.engines.filter((x) => x.kind === 'remote')) await rpc(page, 'engines.removeRemote', { id: e.id });
    await chat?.close();
    expect(problems, 'script errors').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    if (served && served.child.exitCode === null) expect(await stopServer(served), served.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('adds the serve instance\'s own /v1 as a remote engine after a successful test; the key never comes back', async () => {
    await page.getByRole('button', { name: 'App settings' }).click();
    const remote = page.getByRole('region', { name: 'Remote engines' });
    await remote.getByRole('list', { name: 'Engines' }).waitFor(SLOW);
    expect(await remote.textContent()).toMatch(/keys are kept in memory only and must be entered again after a restart/);
    const form = remote.getByRole('form', { name: 'Add a remote engine' });
    await form.getByLabel('Name').fill('Loopback FireLLaVA');
    await form.getByLabel('Base URL').fill(`${served.origin}/v1`);
    await form.getByLabel('Model').fill('firellava-13b');

    // A wrong key first: the test says so in words.
    await form.getByLabel('API key').fill('not-the-right-key');
    await form.getByRole('button', { name: 'Test connection' }).click();
    await expect.poll(() => form.getByTestId('engine-test').textContent(), SLOW).toMatch(/refused the request \(401\)/);
    await form.getByLabel('API key').fill(served.key);
    await form.getByRole('button', { name: 'Test connection' }).click();
    await expect.poll(() => form.getByTestId('engine-test').textContent(), SLOW).toMatch(/^Connected: the key was accepted and it serves /);

    await form.getByRole('button', { name: 'Add engine' }).click();
    const item = remote.getByRole('listitem').filter({ hasText: 'Loopback FireLLaVA' });
    await expect.poll(() => item.textContent(), SLOW).toContain('key saved: yes');
    expect(await form.getByTestId('engine-added').textContent()).toBe('Added “Loopback FireLLaVA”. Choose it for a conversation in Chat settings, or make it the default above.');
    // The same words for the local engine as in Chat settings.
    expect(await remote.getByRole('radio', { name: /^Local \(this computer\)/ }).isChecked()).toBe(true);
    expect(await form.getByLabel('API key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(served.key);

    // Edit: another model name the server answers to; the key stays.
    await item.getByRole('button', { name: 'Edit Loopback FireLLaVA…' }).click();
    const edit = item.getByRole('form', { name: 'Edit Loopback FireLLaVA' });
    expect(await edit.getByLabel('Model').inputValue()).toBe('firellava-13b');
    await edit.getByLabel('Model').fill('firellava');
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => item.textContent(), SLOW).toContain(' · firellava · key saved: yes');
    expect(await edit.count()).toBe(0);

    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog', { name: 'App settings' }).count(), SLOW).toBe(0);
  });

  it('chooses it for a conversation and streams an answer to an image, labelled as remote', async () => {
    await addLoopback();
    await page.reload();
    await expect.poll(() => page.getByTestId('chat-engine').textContent(), SLOW).toMatch(/Engine: Local \(default\)/);
    const chatSettings = page.getByRole('button', { name: 'Chat settings' });
    const settings = page.getByRole('region', { name: 'Conversation settings' });
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent);
    // Escape closes the panel without applying; the focus goes back to its button.
    await chatSettings.click();
    await expect.poll(focused, SLOW).toBe('Preset');
    await settings.getByLabel('Engine').selectOption({ label: 'Remote · Loopback FireLLaVA' });
    await page.keyboard.press('Escape');
    await expect.poll(() => settings.count(), SLOW).toBe(0);
    expect(await focused()).toBe('Chat settings');
    expect(await page.getByTestId('chat-engine').textContent()).toMatch(/Engine: Local \(default\)/);
    // Enter in a field applies.
    await chatSettings.click();
    await settings.getByLabel('Engine').selectOption({ label: 'Remote · Loopback FireLLaVA' });
    await settings.getByLabel('Max tokens').press('Enter');
    await expect.poll(() => page.getByTestId('chat-engine').textContent(), SLOW).toMatch(/Engine: Remote · Loopback FireLLaVA$/);
    expect(await settings.count()).toBe(0);
    expect(await focused()).toBe('Chat settings');

    await page.getByRole('form', { name: 'Write a message' }).locator('input[type=file]').setInputFiles(fixtures.images.png32);
    await page.getByRole('img', { name: /Attached image/ }).waitFor(SLOW);
    await page.getByTestId('messages').evaluate((el) => {
      const w = window as unknown as { answerUpdates: number };
      w.answerUpdates = 0;
      new MutationObserver(() => w.answerUpdates++).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await page.getByLabel('Message', { exact: true }).fill('What is in this picture?');
    const send = page.getByRole('button', { name: 'Send' });
    await send.click();
    const answer = page.locator('article.assistant');
    await expect.poll(async () => (await answer.locator('.markdown').textContent())?.length ?? 0, SLOW).toBeGreaterThan(0);
    await send.waitFor(SLOW); // Stop turns back into Send when the answer ends
    expect(await answer.getAttribute('data-status')).toBe('complete');
    const by = answer.getByTestId('answered-by');
    expect(await by.textContent()).toBe('Remote · Loopback FireLLaVA');
    expect(await by.getAttribute('data-kind')).toBe('remote');
    expect(await page.evaluate(() => (window as unknown as { answerUpdates: number }).answerUpdates)).toBeGreaterThan(1);
    expect(await page.locator('figcaption').first().textContent()).toContain('seen by the model');
    expect(await page.getByRole('alert').allTextContents()).toEqual([]);
  });

  it('removing the engine in App settings: the next answer comes from the default engine, with a notice', async () => {
    const id = await addLoopback();
    const conversation = await openNewConversation(page, 'Remote then local');
    await rpc(page, 'conversations.settings', { id: conversation, engineId: id });
    await page.reload();
    await page.getByRole('button', { name: 'Remote then local', exact: true }).click();
    await expect.poll(() => page.getByTestId('chat-engine').textContent(), SLOW).toMatch(/Engine: Remote · Loopback FireLLaVA$/);
    await ask(page, 'What is in this picture?');
    await page.getByRole('button', { name: 'App settings' }).click();
    const remote = page.getByRole('region', { name: 'Remote engines' });
    // Removing asks first (the key goes with it); Escape keeps it and App settings stays open.
    await remote.getByRole('button', { name: 'Remove Loopback FireLLaVA…' }).click();
    const confirm = remote.getByRole('alertdialog', { name: 'Remove Loopback FireLLaVA?' });
    expect(await confirm.textContent()).toMatch(/Its saved key is deleted\. Conversations that use it are answered by the default engine/);
    await page.keyboard.press('Escape');
    await expect.poll(() => confirm.count(), SLOW).toBe(0);
    expect(await remote.getByRole('listitem').count()).toBe(2);
    await remote.getByRole('button', { name: 'Remove Loopback FireLLaVA…' }).click();
    await confirm.getByRole('button', { name: 'Remove', exact: true }).click();
    await expect.poll(() => remote.getByRole('listitem').count(), SLOW).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('chat-engine').textContent(), SLOW).toMatch(/Engine: Local/);

    await page.getByLabel('Message', { exact: true }).fill('And now?');
    const send = page.getByRole('button', { name: 'Send' });
    await send.click();
    await expect.poll(() => page.getByTestId('engine-notice').textContent(), SLOW).toMatch(/was removed; it now uses the default engine \(This computer\)/);
    const answers = page.locator('article.assistant');
    await expect.poll(() => answers.count(), SLOW).toBe(2);
    await expect.poll(() => answers.nth(1).getAttribute('data-status'), SLOW).toBe('complete');
    expect(await answers.nth(1).getByTestId('answered-by').textContent()).toBe('Local');
    // The earlier answer keeps its remote label.
    expect(await answers.nth(0).getByTestId('answered-by').textContent()).toBe('Remote · Loopback FireLLaVA');
    await expect.poll(() => page.getByTestId('chat-engine').textContent(), SLOW).toMatch(/Engine: Local \(default\)/);
  });

  it('an unreachable engine: the failed answer says which engine and what to do', async () => {
    // A port nobody listens on.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    await page.getByRole('button', { name: 'App settings' }).click();
    const form = page.getByRole('region', { name: 'Remote engines' }).getByRole('form', { name: 'Add a remote engine' });
    await form.getByLabel('Name').fill('Switched off');
    await form.getByLabel('Base URL').fill(`http://127.0.0.1:${port}/v1`);
    await form.getByLabel('Model').fill('firellava-13b');
    await form.getByLabel('API key').fill('any');
    await form.getByRole('button', { name: 'Add engine' }).click();
    await expect.poll(() => form.getByTestId('engine-added').textContent(), SLOW).toMatch(/^Added “Switched off”/);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Chat settings' }).click();
    const settings = page.getByRole('region', { name: 'Conversation settings' });
    await settings.getByLabel('Engine').selectOption({ label: 'Remote · Switched off' });
    await settings.getByRole('button', { name: 'Apply to this conversation' }).click();
    await expect.poll(() => page.getByTestId('chat-engine').textContent(), SLOW).toMatch(/Engine: Remote · Switched off$/);

    await page.getByLabel('Message', { exact: true }).fill('Anyone there?');
    await page.getByRole('button', { name: 'Send' }).click();
    const answer = page.locator('article.assistant').last();
    await expect.poll(() => answer.getAttribute('data-status'), SLOW).toBe('error');
    expect(await answer.getByTestId('answered-by').textContent()).toBe('Remote · Switched off');
    expect(await answer.getByTestId('remote-error-hint').textContent()).toBe(
      'Check this engine in App settings → Remote engines (Test, Replace key…), or pick another engine in Chat settings.',
    );
  });
});
