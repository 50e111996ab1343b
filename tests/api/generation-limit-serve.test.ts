// One queue bound for every door of `firellava serve` (electron/engine/generation-limit.ts): 12
// concurrent /rpc sends on the real engine: 8 run or wait, the rest are refused at once with 429
// ENGINE_BUSY and Retry-After, before anything is written; /v1 meets the same full queue (429
// queue_full); once the queue drains, a send is admitted again. A generated model slow enough that
// no answer ends while the requests arrive makes the count exact.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PENDING_GENERATIONS } from '../../electron/engine/generation-limit';
import type { ContractClient } from '../../electron/shared/client';
import type { Result } from '../../electron/shared/errors';
import { createHttpClient } from '../../electron/transport/http-client';
import { ensureBuilt, getSlowPair, startServer, stopServer, type Served } from '../helpers/serve';

let tmp: string;
let served: Served;
let client: ContractClient;

beforeAll(async () => {
  ensureBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-limit-'));
  served = await startServer(await getSlowPair(), path.join(tmp, 'data'));
  client = createHttpClient({ baseUrl: served.origin, apiKey: served.key });
  for (const end = Date.now() + 60_000; ; ) {
    const status = await client.call('engine.status', {});
    if (status.ok && status.value.state === 'ready') break;
    if (Date.now() > end) throw new Error('model not ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 90_000);
afterAll(async () => {
  await stopServer(served);
  rmSync(tmp, { recursive: true, force: true });
});

const rawSend = (conversationId: string): Promise<Response> =>
  fetch(`${served.origin}/rpc/messages.send`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${served.key}` },
    body: JSON.stringify({ conversationId, text: 'Describe a picture', attachments: [] }),
  });

describe('one generation queue bound for /rpc and /v1', () => {
  it(`refuses sends beyond ${MAX_PENDING_GENERATIONS} with 429 ENGINE_BUSY, /v1 with 429 queue_full, and admits again once it drains`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const c = await client.call('conversations.create', { title: `Chat ${i}` });
      if (!c.ok) throw new Error(c.error.message);
      expect((await client.call('conversations.settings', { id: c.value.id, params: { maxTokens: 6, temperature: 0, seed: 7 } })).ok).toBe(true);
      ids.push(c.value.id);
    }
    const responses = await Promise.all(ids.map(rawSend));
    const refused = responses.filter((r) => r.status === 429);
    const streaming = responses.filter((r) => r.status === 200);
    expect(streaming).toHaveLength(MAX_PENDING_GENERATIONS);
    expect(refused).toHaveLength(12 - MAX_PENDING_GENERATIONS);
    for (const r of refused) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = (await r.json()) as Result<never>;
      expect(body).toMatchObject({ ok: false, error: { code: 'ENGINE_BUSY', message: expect.stringMatching(/requests in progress or waiting \(limit 8\); retry in about \d+ s/) } });
    }

    // /v1 counts the same queue.
    const api = await fetch(`${served.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${served.key}` },
      body: JSON.stringify({ model: 'firellava', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
    });
    expect(api.status).toBe(429);
    expect(api.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('queue_full');

    // Nothing was written for a refused send: its conversation has no question.
    const refusedIds = ids.filter((_, i) => responses[i]!.status === 429);
    for (const id of refusedIds) {
      const view = await client.call('conversations.get', { id });
      expect(view.ok && view.value.messages).toEqual([]);
    }

    // Stop the admitted answers; the queue drains and takes a send again.
    await Promise.all(ids.map((id) => client.call('messages.stop', { conversationId: id })));
    await Promise.all(streaming.map((r) => r.text()));
    const again = await rawSend(refusedIds[0]!);
    expect(again.status).toBe(200);
    expect(await again.text()).toMatch(/event: end\ndata: \{"ok":true/);
  }, 120_000);
});
