// Issue #13 items 1 and 2 in Debian Chromium against `firellava serve` with no model: the welcome
// view and its three ways in, then the first imported pair loads without "Use this model". Each test
// opens its own page.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openChatPage, rpc as pageRpc, type ChatPage } from '../helpers/chat-page';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const SLOW = { timeout: 30_000 };

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('welcome and first pair in Chromium', () => {
  let fixtures: Fixtures;
  let served: Served | undefined;
  let browser: Browser;
  let chat: ChatPage;
  let page: Page;
  let tmp: string;

  const welcome = () => page.getByRole('region', { name: 'Welcome' });
  const focusedIn = (dialog: string): Promise<boolean> =>
    page.evaluate((label) => !!document.querySelector(`dialog[aria-label="${label}"]`)?.contains(document.activeElement), dialog);
  const activeText = (): Promise<string> => page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.textContent ?? ''} ${document.activeElement?.getAttribute('name') ?? ''}`);

  beforeAll(async () => {
    ensureBuilt();
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-welcome-e2e-'));
    served = await startServer(null, path.join(tmp, 'data'), ['--cpu']);
    browser = await launchChromium(tmp);
  }, 120_000);

  beforeEach(async () => {
    chat = await openChatPage(browser, served!, { ready: false });
    page = chat.page;
  }, 90_000);

  afterEach(async () => {
    const problems = chat?.problems ?? [];
    await chat?.close();
    expect(problems, 'script errors').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await stopServer(served);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** The page's own authenticated RPC (its cookie). */
  const rpc = (name: string, input: unknown) => pageRpc(page, name, input);

  it('a remote engine as the default answers without a model: no welcome view then', async () => {
    await expect.poll(() => welcome().isVisible(), SLOW).toBe(true);
    const added = await rpc('engines.addRemote', { name: 'Elsewhere', baseUrl: 'http://127.0.0.1:9/v1', model: 'm' });
    expect(added.ok).toBe(true);
    expect((await rpc('engines.setDefault', { id: added.value!.id })).ok).toBe(true);
    await page.reload();
    await expect.poll(() => page.getByTestId('chat-engine').getAttribute('data-kind'), SLOW).toBe('remote');
    expect(await welcome().count()).toBe(0);
    expect(await page.getByText('Ask about an image').count()).toBe(1);
    expect((await rpc('engines.setDefault', { id: 'local' })).ok).toBe(true);
    expect((await rpc('engines.removeRemote', { id: added.value!.id })).ok).toBe(true);
    await page.reload();
  });

  it('with no model, the empty chat says so and each welcome button opens its dialog', async () => {
    await expect.poll(() => welcome().isVisible(), SLOW).toBe(true);
    expect(await welcome().getByRole('heading').textContent()).toBe('No model is loaded');
    expect(await page.getByText('Ask about an image').count()).toBe(0);
    expect(await welcome().textContent()).toMatch(/Llama 2 Community License.*about 8 GB/);

    await welcome().getByRole('button', { name: 'Get FireLLaVA' }).click();
    const models = page.getByRole('dialog', { name: 'Models' });
    await models.waitFor(SLOW);
    await expect.poll(() => activeText(), SLOW).toMatch(/^BUTTON Get FireLLaVA…/);
    expect(await focusedIn('Models')).toBe(true);
    await page.keyboard.press('Escape');
    await models.waitFor({ state: 'detached', ...SLOW });

    await welcome().getByRole('button', { name: 'Connect a remote engine' }).click();
    const settings = page.getByRole('dialog', { name: 'App settings' });
    await settings.waitFor(SLOW);
    await expect.poll(() => activeText(), SLOW).toMatch(/^H3 Remote engines/);
    expect(await focusedIn('App settings')).toBe(true);
    await page.keyboard.press('Escape');
    await settings.waitFor({ state: 'detached', ...SLOW });

    await welcome().getByRole('button', { name: 'Import a GGUF pair' }).click();
    await models.waitFor(SLOW);
    await expect.poll(() => activeText(), SLOW).toMatch(/^INPUT\s+local-model$/);
    expect(await models.getByRole('tab', { name: 'Local files' }).getAttribute('aria-selected')).toBe('true');
    // Send stays off while nothing can answer.
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
  });

  it('importing the first pair loads it: Ready, Send enabled, /v1/models lists it, no "Use this model" click', async () => {
    await welcome().getByRole('button', { name: 'Import a GGUF pair' }).click();
    const models = page.getByRole('dialog', { name: 'Models' });
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('name')), SLOW).toBe('local-model');
    await models.getByLabel('Model file path').fill(fixtures.pair.model);
    await models.getByLabel('Projector file path').fill(fixtures.pair.mmproj);
    await models.getByRole('button', { name: 'Check and add' }).click();
    await expect.poll(() => page.locator('.statusbar [role=status]').getAttribute('data-state'), SLOW).toBe('ready');
    expect(await page.getByRole('button', { name: 'Use this model' }).count()).toBe(0);
    await page.keyboard.press('Escape');
    await models.waitFor({ state: 'detached', ...SLOW });

    expect(await welcome().count()).toBe(0);
    expect(await page.getByText('Ask about an image').count()).toBe(1);
    await page.getByRole('textbox', { name: 'Message' }).fill('What is in the picture?');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(false);

    const res = await fetch(`${served!.origin}/v1/models`, { headers: { Authorization: `Bearer ${served!.key}` } });
    expect(res.status).toBe(200);
    const list = (await res.json()) as { data: { id: string }[] };
    expect(list.data.length).toBe(1);
  });
});
