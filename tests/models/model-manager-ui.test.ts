// ModelManager.svelte in Debian Chromium against `firellava serve` (real backend, HTTP transport)
// and files from a loopback server: first-run explanation, add by URL with progress, pause and
// resume, the gated-repo message, local import, choosing the active model, delete.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { buildModelManagerHarness, CHROMIUM, ensureBuilt, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';
import { startLoopbackServer, type LoopbackServer } from './loopback-server';

/** The machine is shared and loaded: UI round trips can take seconds. */
const SLOW = { timeout: 20_000 };

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('model manager UI in Chromium', () => {
  let fx: Fixtures;
  let tmp: string;
  let files: LoopbackServer;
  let served: Served | undefined;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ensureBuilt();
    fx = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-mm-ui-'));
    const out = path.join(tmp, 'harness');
    await buildModelManagerHarness(out);
    files = await startLoopbackServer({
      'org/model.gguf': { path: fx.pair.model },
      'org/mmproj.gguf': { path: fx.pair.mmproj },
      'gated/model.gguf': { path: fx.pair.model, token: 'hf_needed' },
    });
    served = await startServer(null, path.join(tmp, 'data'), ['--static-dir', out, '--cpu'], { HF_TOKEN: '' });
    const url = served.url;
    browser = await launchChromium(tmp);
    page = await browser.newPage();
    await page.goto(url);
  });

  afterAll(async () => {
    await browser?.close();
    await stopServer(served);
    await files?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('first run explains FireLLaVA-13B size and license before anything downloads', async () => {
    const intro = page.getByRole('note');
    await expect.poll(() => intro.textContent(), SLOW).toMatch(/No model yet/);
    const text = (await intro.textContent()) ?? '';
    expect(text).toMatch(/FireLLaVA-13B: about 8\.5 GB \(estimate\) of disk, Llama 2 Community License/);
    expect(text).toMatch(/Nothing is downloaded until you choose to/);
    expect(text).toMatch(/safetensors only/);
    expect(await page.getByRole('radio', { name: 'FireLLaVA-13B' }).isChecked()).toBe(true);
    expect(files.requests).toEqual([]);
  });

  it('adds a pair by URL: progress, pause, resume, then ready and active', async () => {
    files.throttle = 150 * 1024;
    await page.getByLabel('Model GGUF URL').fill(files.url('org/model.gguf'));
    await page.getByLabel('Vision projector (mmproj) URL').fill(files.url('org/mmproj.gguf'));
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    const job = page.locator('.jobs li').first();
    await expect.poll(() => job.getAttribute('data-state'), SLOW).toBe('downloading');
    await expect.poll(async () => Number(await job.locator('progress').getAttribute('value')), SLOW).toBeGreaterThan(5);
    expect(await job.locator('.meta').textContent()).toMatch(/KB of 717 KB · [\d.]+ (B|KB|MB)\/s/);
    await job.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => job.getAttribute('data-state'), SLOW).toBe('paused');
    expect(await job.locator('.meta').textContent()).toMatch(/^Paused at [\d.]+ KB of 717 KB$/);
    files.throttle = 0;
    await job.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => job.getAttribute('data-state'), SLOW).toBe('done');
    const installed = page.locator('.installed li').first();
    await expect.poll(() => installed.textContent(), SLOW).toMatch(/Ready/);
    expect(await installed.textContent()).toMatch(/Active/);
    expect(await installed.textContent()).toMatch(/717 KB on disk · model\.gguf \+ mmproj\.gguf/);
  });

  it('a gated repository tells the user what to do', async () => {
    await page.getByLabel('Model GGUF URL').fill(files.url('gated/model.gguf'));
    await page.getByLabel('Vision projector (mmproj) URL').fill(files.url('org/mmproj.gguf'));
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), SLOW).toMatch(/Access denied \(401\) to model\.gguf: accept the license at .* and add a Hugging Face token/);
  });

  it('the headless server explains where a Hugging Face token comes from', async () => {
    await page.getByRole('tab', { name: 'Hugging Face' }).click();
    const token = page.getByRole('form', { name: 'Hugging Face token' });
    await expect.poll(() => token.getByRole('status').textContent(), SLOW).toMatch(/start the server with HF_TOKEN set/);
    // Headless mode never offers to store a secret from the page.
    expect(await token.locator('input[type=password]').count()).toBe(0);
    await page.getByRole('tab', { name: 'By URL' }).click();
  });

  it('imports local files, switches the active model and deletes one', async () => {
    await page.getByRole('tab', { name: 'Local files' }).click();
    await page.getByLabel('Model file path').fill(fx.broken.wrongArchModel);
    await page.getByLabel('Projector file path').fill(fx.pair.mmproj);
    await page.getByRole('button', { name: 'Check and add' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), SLOW).toBe('model wrong-arch-model.gguf: architecture is "gpt2", but FireLLaVA needs a "llama" model');

    await page.getByLabel('Model file path').fill(fx.pairF16.model);
    await page.getByLabel('Projector file path').fill(fx.pairF16.mmproj);
    await page.getByLabel('Keep a').selectOption('symlink');
    await page.getByRole('button', { name: 'Check and add' }).click();
    const second = page.locator('.installed li').nth(1);
    await expect.poll(() => second.textContent(), SLOW).toMatch(/Ready.*0 B on disk · model-f16\.gguf \(link\) \+ mmproj-f16\.gguf \(link\)/s);
    await second.getByRole('button', { name: 'Use this model' }).click();
    await expect.poll(() => second.textContent(), SLOW).toMatch(/Active/);
    const first = page.locator('.installed li').first();
    expect(await first.textContent()).not.toMatch(/Active/);

    await first.getByRole('button', { name: 'Delete…' }).click();
    await first.getByRole('button', { name: /^Delete 717 KB$/ }).click();
    await expect.poll(() => page.locator('.installed li').count(), SLOW).toBe(1);
    expect(existsSync(fx.pairF16.model)).toBe(true);
  });
});
