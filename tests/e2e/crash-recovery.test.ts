// Kill `firellava serve` with SIGKILL while an answer streams, start it again on the same data
// folder: the partial answer is in the database, marked interrupted, and the chat goes on.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ContractClient } from '../../electron/shared/client';
import type { ChatEvent } from '../../electron/shared/contracts/conversations';
import { createHttpClient } from '../../electron/transport/http-client';
import { existsSync } from 'node:fs';
import { CHROMIUM, ensureBuilt, getSlowPair, launchChromium, startServer, stopServer, type Served } from '../helpers/serve';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-crash-'));
const dataDir = path.join(tmp, 'data');
let served: Served | undefined;

afterAll(async () => {
  await stopServer(served);
  rmSync(tmp, { recursive: true, force: true });
});

async function ready(client: ContractClient): Promise<void> {
  await expect
    .poll(async () => {
      const s = await client.call('engine.status', {});
      return s.ok ? s.value.state : 'unreachable';
    }, { timeout: 60_000 })
    .toBe('ready');
}

describe('crash while an answer streams', () => {
  it('keeps the partial answer as interrupted and continues after a restart', async () => {
    ensureBuilt();
    const pair = await getSlowPair();
    served = await startServer(pair, dataDir);
    let client = createHttpClient({ baseUrl: served.origin, apiKey: served.key });
    await ready(client);
    const created = await client.call('conversations.create', { title: 'Crash test' });
    if (!created.ok) throw new Error(created.error.message);
    const id = created.value.id;
    await client.call('conversations.settings', { id, params: { maxTokens: 1000 } });

    let streamed = '';
    let firstDeltaAt = 0;
    const child = served.child;
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const handle = client.stream('messages.send', { conversationId: id, text: 'Tell me a long story about a teapot', attachments: [] }, (e: ChatEvent) => {
      if (e.type !== 'delta') return;
      streamed += e.text;
      firstDeltaAt ||= Date.now();
      // Well past one flush interval after the first words: the kill must lose at most 500 ms.
      if (Date.now() - firstDeltaAt > 1200 && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    expect(await exited).toBe('SIGKILL');
    const result = await handle.done;
    expect(result.ok).toBe(false);
    expect(streamed.length).toBeGreaterThan(0);

    served = await startServer(pair, dataDir);
    client = createHttpClient({ baseUrl: served.origin, apiKey: served.key });
    const view = await client.call('conversations.get', { id });
    if (!view.ok) throw new Error(view.error.message);
    const [question, partial] = view.value.messages;
    expect(question?.text).toBe('Tell me a long story about a teapot');
    expect(partial?.status).toBe('interrupted');
    expect(partial!.text.length).toBeGreaterThan(0);
    expect(streamed.startsWith(partial!.text)).toBe(true);

    await ready(client);
    await client.call('conversations.settings', { id, params: { maxTokens: 8 } });
    const events: ChatEvent[] = [];
    const next = await client.stream('messages.send', { conversationId: id, text: 'Go on, briefly.', attachments: [] }, (e: ChatEvent) => events.push(e)).done;
    expect(next.ok).toBe(true);
    const after = await client.call('conversations.get', { id });
    if (!after.ok) throw new Error(after.error.message);
    expect(after.value.messages.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:interrupted', 'user:complete', 'assistant:complete']);
    expect(after.value.messages[1]!.text).toBe(partial!.text);

    // And the person using it sees it so.
    if (!existsSync(CHROMIUM)) return;
    const browser = await launchChromium(tmp);
    try {
      const page = await browser.newPage();
      await page.goto(served.url);
      await page.getByRole('button', { name: 'Crash test', exact: true }).click();
      const interrupted = page.locator('article.assistant[data-status="interrupted"]');
      await interrupted.waitFor({ timeout: 10_000 });
      expect(await interrupted.getByTestId('message-status').textContent()).toMatch(/^Interrupted/);
      expect((await interrupted.locator('.markdown').textContent())?.trim()).toBe(partial!.text.trim());
    } finally {
      await browser.close();
    }
  }, 180_000);
});
