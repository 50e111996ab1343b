// "Get FireLLaVA" in Debian Chromium: the model manager page of `firellava serve` (HTTP transport,
// real backend and engine) against a Hugging Face-like loopback server (FIRELLAVA_HF_ORIGIN),
// gated by a token that the server gets from HF_TOKEN: license and token explained, quant and
// disk estimate, start, progress, cancel, start again, Ready with the installed active pair.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeHfCheckpoint } from '../../electron/fixtures/hf-checkpoint';
import { startHfServer, type HfServer } from '../convert/get-firellava-server';
import { buildModelManagerHarness, CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const SLOW = { timeout: 30_000 };
const TOKEN = 'hf_e2etoken12345';

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('Get FireLLaVA in Chromium', () => {
  let tmp: string;
  let hf: HfServer;
  let served: Served | undefined;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ensureBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-get-ui-'));
    const out = path.join(tmp, 'harness');
    await buildModelManagerHarness(out);
    await writeHfCheckpoint(path.join(tmp, 'ck'), { shards: 3 });
    hf = await startHfServer(path.join(tmp, 'ck'), tmp, { token: TOKEN });
    served = await startServer(null, path.join(tmp, 'data'), ['--static-dir', out, '--cpu'], { HF_TOKEN: TOKEN, FIRELLAVA_HF_ORIGIN: hf.origin });
    browser = await launchChromium(tmp);
  }, 120_000);

  beforeEach(async () => {
    page = await browser.newPage();
    await page.goto(served!.url);
  });

  afterEach(async () => {
    await page?.close();
  });

  /** Get FireLLaVA opened, Q4_0 chosen and the license accepted: Start is enabled. */
  const readyToStart = async (): Promise<void> => {
    const get = page.getByRole('region', { name: 'Get FireLLaVA' });
    await get.getByRole('button', { name: 'Get FireLLaVA…' }).click();
    await get.getByRole('radio', { name: /^Q4_0 · about [\d.]+ MB/ }).check();
    await get.getByLabel('I accept the Llama 2 Community License').check();
  };

  afterAll(async () => {
    await browser?.close();
    await stopServer(served);
    await hf?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('explains license, gating and token, shows quant sizes and the disk estimate; Start needs the license accepted', async () => {
    const get = page.getByRole('region', { name: 'Get FireLLaVA' });
    await get.getByRole('button', { name: 'Get FireLLaVA…' }).click();
    const license = get.getByLabel('License', { exact: true });
    await expect.poll(() => license.textContent(), SLOW).toMatch(/released under the Llama 2 Community License/);
    // The pressed button is gone: the focus goes to the license text, not lost on the page.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('License');
    expect(await license.textContent()).toMatch(/is gated: sign in on Hugging Face, open that page and accept the license,\s+then create a read token/);
    expect(await license.getByRole('link').getAttribute('href')).toBe(`${hf.origin}/fireworks-ai/FireLLaVA-13b`);
    expect(await get.getByRole('form', { name: 'FireLLaVA access token' }).getByRole('status').textContent()).toMatch(/Using the token from HF_TOKEN/);
    // Headless: the page never offers to store the secret.
    expect(await get.locator('input[type=password]').count()).toBe(0);
    // Every quantization the converter offers, with its size; the recommended one preselected.
    const recommended = get.getByRole('radio', { name: /\(recommended\)$/ });
    expect(await recommended.isChecked()).toBe(true);
    expect(await get.getByRole('radio', { name: /^F16 · about [\d.]+ MB$/ }).count()).toBe(1);
    const q4 = get.getByRole('radio', { name: /^Q4_0 · about [\d.]+ MB/ });
    await q4.check();
    expect(await get.locator('.disk').textContent()).toMatch(/Disk: download [\d.]+ KB\s+\+ converted model about [\d.]+ MB, so about [\d.]+ MB with a 10% margin\.\s+Free: [\d.]+ (GB|TB)\./);
    const start = get.getByRole('button', { name: /^Start: download and convert to Q4_0$/ });
    expect(await start.isDisabled()).toBe(true);
    // Why it is greyed out, next to it.
    expect(await start.getAttribute('aria-describedby').then((id) => get.locator(`#${id}`).textContent())).toBe('Accept the license above to start.');
    await get.getByLabel('I accept the Llama 2 Community License').check();
    expect(await start.isDisabled()).toBe(false);
    expect(await get.locator('#get-start-why').count()).toBe(0);
    // Nothing was fetched but the listing.
    expect(hf.server.requests.filter((r) => r.name.includes('/resolve/'))).toEqual([]);
  });

  it('one progress view: download with bytes and rate, cancel, start again, then Ready with the installed active pair', async () => {
    await readyToStart();
    const get = page.getByRole('region', { name: 'Get FireLLaVA' });
    hf.server.throttle = 24 * 1024;
    await get.getByRole('button', { name: /^Start: download and convert/ }).click();
    const view = get.getByRole('group', { name: 'Get FireLLaVA progress' });
    await expect.poll(() => view.getAttribute('data-phase'), SLOW).toBe('download');
    // Start is replaced by the progress view, which takes the focus.
    expect(await view.evaluate((el) => el.contains(document.activeElement))).toBe(true);
    await expect.poll(() => view.locator('.line').textContent(), SLOW).toMatch(/^Downloading model-0000\d-of-00003\.safetensors: [\d.]+ KB of [\d.]+ KB · [\d.]+ KB\/s · \d+ s left$/);
    expect(await view.locator('[aria-current=step]').textContent()).toBe('Download');
    await view.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => view.getAttribute('data-state'), SLOW).toBe('cancelled');
    // Cancel is gone too: the focus goes to what happened, just before Start again.
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('role')), SLOW).toBe('alert');
    expect(await view.getByRole('alert').textContent()).toMatch(/Stopped\..*Start again to resume: the bytes downloaded so far are kept\./s);

    hf.server.throttle = 0;
    await view.getByRole('button', { name: 'Start again' }).click();
    await expect.poll(() => view.getAttribute('data-state'), SLOW).toBe('ready');
    expect(await view.getByRole('status').textContent()).toMatch(/Ready:\s+FireLLaVA-13b Q4_0 is installed and active \([\d.]+ KB\)\.\s+The downloaded checkpoint was deleted\./);
    expect(await view.locator('li[data-step=done]').allTextContents()).toEqual(['Download', 'Convert + quantize', 'Verify and install', 'Ready']);
    // The model manager's list shows it, ready and active; the engine loaded it.
    const installed = page.locator('.installed li').first();
    await expect.poll(() => installed.textContent(), SLOW).toMatch(/FireLLaVA-13b Q4_0.*Ready/s);
    expect(await installed.textContent()).toMatch(/Active/);
    // Back to the choices: Q4_0 is now marked installed.
    await view.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => get.getByRole('radio', { name: /^Q4_0 .* · installed$/ }).isDisabled(), SLOW).toBe(true);
  });
});
