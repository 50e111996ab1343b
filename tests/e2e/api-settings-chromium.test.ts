// The local API server settings in Debian Chromium against `firellava serve`: open App settings,
// try the port serve already uses (a clear error), enable the server on a free port, reveal the key, call the API from Node with the official
// openai client, rotate the key after the confirmation, see the old key refused.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFixtures } from '../helpers/fixtures';
import { CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';
import { freePort } from '../helpers/free-port';

/** The machine is shared and loaded: UI round trips can take seconds. */
const SLOW = { timeout: 20_000 };

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('local API server settings in Chromium', () => {
  let served: Served;
  let browser: Browser;
  let page: Page;
  let tmp: string;
  const problems: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    const fx = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-ui-'));
    served = await startServer(fx.pair, path.join(tmp, 'data'));
    browser = await launchChromium(tmp);
    page = await browser.newPage();
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    await page.goto(served.url);
  });

  afterAll(async () => {
    await browser?.close();
    if (served && served.child.exitCode === null) expect(await stopServer(served), served.stderr()).toBe(0);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const section = () => page.getByRole('region', { name: 'Local API server' });
  const shownKey = () => section().getByLabel('API key').textContent();

  it('enables the server on a free port, reveals a key that works, rotates it, and the old key is refused', async () => {
    await page.getByRole('button', { name: 'App settings' }).click();
    // The dialog opens on its title; Tab goes on to Close.
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName + ' ' + document.activeElement?.textContent), SLOW).toBe('H2 App settings');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Close');
    const api = section();
    await expect.poll(() => api.getByRole('status').first().textContent(), SLOW).toMatch(/Off/);
    // Headless: the serve port's own /v1 is mentioned, and the key is in memory only.
    expect(await api.textContent()).toContain(`This server also answers the API at ${served.origin}/v1`);
    expect(await api.textContent()).toMatch(/No system keychain here/);
    expect(await shownKey()).toMatch(/^fl-…[A-Za-z0-9_-]{4}$/);

    // The serve port itself is taken: a clear error, the choice kept; another port then works.
    const servePort = new URL(served.origin).port;
    // Nothing to save until something changes; turning it on uses the port typed, saved or not.
    expect(await api.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await api.getByLabel('Port').fill(servePort);
    expect(await api.getByText('Unsaved changes.').count()).toBe(1);
    await api.getByLabel('Run the local API server').check();
    await expect.poll(() => api.getByRole('alert').first().textContent(), SLOW).toBe(
      `Port ${servePort} on 127.0.0.1 is already in use by another program, so the API server is not running. Choose another port; your settings are saved.`,
    );
    expect(await api.getByRole('status').first().textContent()).toMatch(/Not running/);
    expect(await api.getByText(/^Unsaved changes/).count()).toBe(0);
    const port = await freePort();
    await api.getByLabel('Port').fill(String(port));
    await api.getByRole('button', { name: 'Save' }).click();
    const baseUrl = `http://127.0.0.1:${port}/v1`;
    await expect.poll(() => api.getByRole('status').first().textContent(), SLOW).toContain(`Running at ${baseUrl}`);
    expect(await api.getByRole('alert').count()).toBe(0);

    await api.getByRole('button', { name: 'Reveal' }).click();
    await expect.poll(shownKey, SLOW).toMatch(/^fl-[A-Za-z0-9_-]{32}$/);
    const oldKey = (await shownKey())!;
    const example = (await api.getByLabel('Python example').textContent()) ?? '';
    // It scrolls sideways, so keyboard users must be able to focus it.
    await api.getByLabel('Python example').focus();
    expect(await api.getByLabel('Python example').evaluate((el) => el === document.activeElement && el.tabIndex === 0)).toBe(true);
    expect(example).toContain(`OpenAI(base_url="${baseUrl}", api_key="${oldKey}")`);

    const oldClient = new OpenAI({ baseURL: baseUrl, apiKey: oldKey, maxRetries: 0, timeout: 20_000 });
    const ask = (client: OpenAI) => client.chat.completions.create({ model: 'firellava-13b', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, temperature: 0 });
    expect((await ask(oldClient)).choices[0]!.message.role).toBe('assistant');

    // Rotation asks first, with the focus on its safe choice; Escape (like Cancel) keeps the key and
    // closes only the question, not App settings, and the focus goes back to Rotate….
    await api.getByRole('button', { name: 'Rotate…' }).click();
    await expect.poll(() => api.getByRole('alertdialog').textContent(), SLOW).toMatch(/clients still using the current key stop working/);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent), SLOW).toBe('Cancel');
    await page.keyboard.press('Escape');
    await expect.poll(() => api.getByRole('alertdialog').count(), SLOW).toBe(0);
    expect(await page.getByRole('dialog', { name: 'App settings' }).count()).toBe(1);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent), SLOW).toBe('Rotate…');
    await api.getByRole('button', { name: 'Rotate…' }).click();
    await api.getByRole('button', { name: 'Cancel' }).click();
    expect(await shownKey()).toBe(oldKey);
    await api.getByRole('button', { name: 'Rotate…' }).click();
    await api.getByRole('button', { name: 'Rotate the key' }).click();
    await expect.poll(shownKey, SLOW).not.toBe(oldKey);
    const newKey = (await shownKey())!;
    expect(newKey).toMatch(/^fl-[A-Za-z0-9_-]{32}$/);
    // Copy puts the whole key on the clipboard even while it is hidden.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: served.origin });
    await api.getByRole('button', { name: 'Hide' }).click();
    expect(await shownKey()).toBe(`fl-…${newKey.slice(-4)}`);
    await api.getByRole('button', { name: 'Copy', exact: true }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), SLOW).toBe(newKey);

    await expect(ask(oldClient)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await ask(new OpenAI({ baseURL: baseUrl, apiKey: newKey, maxRetries: 0, timeout: 20_000 }))).choices).toHaveLength(1);
    expect(await api.getByRole('status').first().textContent()).toContain(`Running at ${baseUrl}`);

    // Off from the page: the port stops answering.
    await api.getByLabel('Run the local API server').uncheck();
    await expect.poll(() => api.getByRole('status').first().textContent(), SLOW).toMatch(/Off/);
    await expect(fetch(`${baseUrl}/models`)).rejects.toThrow();
    expect(problems).toEqual([]);
  });
});
