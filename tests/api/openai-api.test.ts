// The API handler in-process on the real engine: queue limits (429), no model (503), CORS when
// origins are configured, image fetching when the user enabled it, key rotation; and the raw
// prompt format /v1/completions hands to the engine.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { startApiServer, type RunningApiServer } from '../../electron/api/api-server';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { MEDIA_MARKER } from '../../electron/engine/prompt-format';
import { formatRawPrompt } from '../../electron/engine/raw-prompt';
import { loadCounter, startEngine } from '../helpers/engine';
import { getFixtures, type Fixtures } from '../helpers/fixtures';
import { dataUrl, errorOf, KEY, postJson, raw, writeLongContextPair } from './api-helpers';

describe('raw prompts (/v1/completions)', () => {
  const img = (id: string) => ({ id, path: `/imgs/${id}.png` });
  it('puts the single image at <image>, or first without it, and never passes a typed media marker', () => {
    const placed = formatRawPrompt('USER: <image>\nWhat?\nASSISTANT:', [{ role: 'user', text: '', images: [img('a')] }]);
    expect(placed.prompt).toBe(`USER: ${MEDIA_MARKER}\nWhat?\nASSISTANT:`);
    expect(placed.mediaPaths).toEqual(['/imgs/a.png']);
    const first = formatRawPrompt('Describe:', [{ role: 'user', text: '', images: [img('a'), img('b')] }]);
    expect(first.prompt).toBe(`${MEDIA_MARKER}\nDescribe:`);
    expect(first.usedImageId).toBe('b');
    expect(first.ignoredImageIds).toEqual(['a']);
    const typed = formatRawPrompt(`no image here ${MEDIA_MARKER} <image>`, [{ role: 'user', text: '', images: [] }]);
    expect(typed.prompt).not.toContain(MEDIA_MARKER);
    expect(typed.prompt).toContain('<image>');
    expect(typed.mediaPaths).toEqual([]);
  });
});

describe('OpenAI API in-process on the real engine', () => {
  let fixtures: Fixtures;
  let engine: LocalEngine;
  let server: RunningApiServer;
  let tmp: string;
  let key = KEY;
  let store: ReturnType<typeof createAttachmentStore>;
  const attachmentsOf = () => store;
  const port = (): number => server.port;
  const counter = loadCounter();

  beforeAll(async () => {
    fixtures = await getFixtures();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-inproc-'));
    engine = startEngine({ onLog: counter.onLog });
    server = await startApiServer('127.0.0.1', 0, {
      engine,
      attachments: (store = createAttachmentStore(path.join(tmp, 'data'))),
      apiKey: () => key,
      corsOrigins: ['https://tools.example'],
      fetchImages: true,
      maxPending: 1,
    });
  });

  afterAll(async () => {
    await server?.close();
    await engine?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while no model is loaded, and lists no model', async () => {
    const r = await postJson(port(), '/v1/chat/completions', { model: 'firellava-13b', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBeDefined();
    expect(errorOf(r)).toMatchObject({ type: 'server_error', code: 'model_not_loaded' });
    const list = await raw(port(), { path: '/v1/models', headers: { Authorization: `Bearer ${KEY}` } });
    expect(JSON.parse(list.body)).toEqual({ object: 'list', data: [] });
    const pair = await writeLongContextPair(path.join(tmp, 'model'));
    const loaded = await engine.load(pair);
    expect(loaded.ok).toBe(true);
  });

  it('answers 429 with Retry-After when the engine queue is full, and serves again once it drains', async () => {
    let firstChunk!: () => void;
    const streaming = new Promise<void>((resolve) => (firstChunk = resolve));
    const req = http.request({ host: '127.0.0.1', port: port(), method: 'POST', path: '/v1/chat/completions', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } }, (res) => {
      res.once('data', () => firstChunk());
      res.resume();
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ model: 'firellava', messages: [{ role: 'user', content: 'A long story, please.' }], max_tokens: 3000, temperature: 0, stream: true }));
    await streaming;
    const busy = await postJson(port(), '/v1/chat/completions', { model: 'firellava', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(busy.status).toBe(429);
    expect(Number(busy.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(errorOf(busy)).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
    req.destroy();
    // The hang-up cancels the long answer; the queue is free at once.
    let after = await postJson(port(), '/v1/chat/completions', { model: 'firellava', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    for (let i = 0; i < 20 && after.status === 429; i++) {
      await new Promise((r) => setTimeout(r, 25));
      after = await postJson(port(), '/v1/chat/completions', { model: 'firellava', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    }
    expect(after.status).toBe(200);
  });

  it('takes the queue slot before decoding images: a parallel image bomb meets the 429', async () => {
    const jpeg = Buffer.from(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#888' } }).jpeg().toBuffer());
    const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
    jpeg.writeUInt16BE(10000, sof + 5);
    jpeg.writeUInt16BE(10000, sof + 7);
    const url = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
    const ask = (n: number) =>
      postJson(port(), '/v1/chat/completions', {
        model: 'firellava',
        messages: [{ role: 'user', content: [{ type: 'text', text: `bomb ${n}` }, { type: 'image_url', image_url: { url } }] }],
        max_tokens: 1,
      });
    const statuses = (await Promise.all([ask(1), ask(2)])).map((r) => r.status);
    expect(statuses).toContain(429);
  });

  it('allows configured browser origins (preflight and response headers) and no others', async () => {
    const pre = await raw(port(), {
      method: 'OPTIONS',
      path: '/v1/chat/completions',
      headers: { Origin: 'https://tools.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type, x-stainless-os' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://tools.example');
    expect(pre.headers['access-control-allow-headers']).toContain('authorization');
    const list = await raw(port(), { path: '/v1/models', headers: { Origin: 'https://tools.example', Authorization: `Bearer ${KEY}` } });
    expect(list.status).toBe(200);
    expect(list.headers['access-control-allow-origin']).toBe('https://tools.example');
    const other = await raw(port(), { path: '/v1/models', headers: { Origin: 'https://other.example', Authorization: `Bearer ${KEY}` } });
    expect(other.status).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('downloads http(s) image URLs when fetching is enabled, validating them like pasted images', async () => {
    const files = http.createServer((req, res) => {
      if (req.url === '/cat.png') return res.end(readFileSync(fixtures.images.png32));
      if (req.url === '/broken.png') return res.end(readFileSync(fixtures.images.truncatedPng));
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    try {
      const ask = (url: string) =>
        postJson(port(), '/v1/chat/completions', { model: 'firellava', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: [{ type: 'text', text: 'What?' }, { type: 'image_url', image_url: { url } }] }] });
      const fetched = await ask(`${base}/cat.png`);
      const inline = await ask(dataUrl(fixtures.images.png32));
      expect(fetched.status).toBe(200);
      const usage = (r: typeof fetched) => (JSON.parse(r.body) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
      expect(usage(fetched)).toBe(usage(inline));
      const broken = await ask(`${base}/broken.png`);
      expect(broken.status).toBe(400);
      expect(errorOf(broken).message).toMatch(/truncated/i);
      const missing = await ask(`${base}/nope.png`);
      expect(missing.status).toBe(400);
      expect(errorOf(missing)).toMatchObject({ code: 'image_fetch_failed', message: expect.stringContaining('404') });
    } finally {
      files.close();
    }
  });

  it('refuses bad data: URLs and messages it cannot represent with a 400 naming the field', async () => {
    const ask = (messages: unknown) => postJson(port(), '/v1/chat/completions', { model: 'firellava', max_tokens: 2, messages });
    const notBase64 = await ask([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,@@@@' } }] }]);
    expect(errorOf(notBase64)).toMatchObject({ param: 'messages[0].content[0].image_url', message: expect.stringMatching(/base64/) });
    const text = await ask([{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${Buffer.from('hello').toString('base64')}` } }] }]);
    expect(text.status).toBe(400);
    expect(errorOf(text).message).toMatch(/not a supported image/);
    const tool = await ask([{ role: 'user', content: 'hi' }, { role: 'tool', content: 'x' }]);
    expect(errorOf(tool).param).toBe('messages[1].role');
    const systemOnly = await ask([{ role: 'system', content: 'Be brief.' }]);
    expect(errorOf(systemOnly)).toMatchObject({ param: 'messages', message: expect.stringMatching(/at least one user or assistant message/) });
    const audio = await ask([{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }]);
    expect(errorOf(audio).param).toBe('messages[0].content[0].type');
  });

  it('answers a multi-image conversation exactly as the chat UI path does (one code path, latest image seen)', async () => {
    const a = await attachmentsOf().add(readFileSync(fixtures.images.png32));
    const b = await attachmentsOf().add(readFileSync(fixtures.images.png64x48));
    const pathA = await attachmentsOf().pathOf(a.id);
    const pathB = await attachmentsOf().pathOf(b.id);
    const system = 'You are a careful visual assistant.';
    const params = { maxTokens: 12, temperature: 0, topK: 1, topP: 1, seed: 7, stop: [] as string[] };
    const local = await engine.generate(
      {
        conversationId: 'ui',
        system,
        turns: [
          { role: 'user', text: 'First picture.', images: [{ id: a.id, path: pathA }] },
          { role: 'assistant', text: 'I see it.', images: [] },
          { role: 'user', text: 'And this one?', images: [{ id: b.id, path: pathB }] },
        ],
        params,
      },
      () => undefined,
    );
    const api = await postJson(port(), '/v1/chat/completions', {
      model: 'firellava',
      max_tokens: 12,
      temperature: 0,
      seed: 7,
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: [{ type: 'text', text: 'First picture.' }, { type: 'image_url', image_url: { url: dataUrl(fixtures.images.png32) } }] },
        { role: 'assistant', content: 'I see it.' },
        { role: 'user', content: [{ type: 'text', text: 'And this one?' }, { type: 'image_url', image_url: { url: dataUrl(fixtures.images.png64x48), detail: 'low' } }] },
      ],
    });
    expect(api.status).toBe(200);
    expect(local.type).toBe('done');
    const body = JSON.parse(api.body) as { choices: { message: { content: string } }[]; usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } };
    if (local.type === 'done') {
      expect(body.choices[0]!.message.content).toBe(local.text);
      expect(body.usage.prompt_tokens).toBe(local.usage.promptTokens);
    }
    // The same conversation again: its prompt comes from the KV cache, and the API says so.
    const again = await postJson(port(), '/v1/chat/completions', { model: 'firellava', max_tokens: 2, temperature: 0, messages: [
      { role: 'system', content: system },
      { role: 'user', content: [{ type: 'text', text: 'First picture.' }, { type: 'image_url', image_url: { url: dataUrl(fixtures.images.png32) } }] },
      { role: 'assistant', content: 'I see it.' },
      { role: 'user', content: [{ type: 'text', text: 'And this one?' }, { type: 'image_url', image_url: { url: dataUrl(fixtures.images.png64x48) } }] },
      { role: 'assistant', content: body.choices[0]!.message.content },
      { role: 'user', content: 'Shorter, please.' },
    ] });
    expect(again.status).toBe(200);
    expect((JSON.parse(again.body) as typeof body).usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(body.usage.prompt_tokens / 2);
  });

  it('refuses a bad image with a 400 before the engine runs, so the model is never reloaded', async () => {
    const ask = (url: string) =>
      postJson(port(), '/v1/chat/completions', { model: 'firellava', max_tokens: 2, messages: [{ role: 'user', content: [{ type: 'text', text: 'What?' }, { type: 'image_url', image_url: { url } }] }] });
    const good = dataUrl(fixtures.images.png64x48);
    // Twice: a reload left over from an earlier test (a cancelled request) is logged on stderr,
    // which can arrive after the answer on a loaded machine; the second answer waits it out.
    expect((await ask(good)).status).toBe(200);
    expect((await ask(good)).status).toBe(200);
    const loads = counter.loads();
    expect(loads).toBeGreaterThan(0);
    const truncated = await ask(dataUrl(fixtures.images.truncatedPng));
    expect(truncated.status).toBe(400);
    expect(errorOf(truncated)).toMatchObject({ code: 'invalid_image', param: 'messages[0].content[1].image_url' });
    // The stored copy of a known image damaged on disk: stored again from the bytes sent, not handed to the engine.
    const stored = await store.add(readFileSync(fixtures.images.png64x48));
    writeFileSync(await store.pathOf(stored.id), 'damaged');
    const again = await ask(good);
    expect(again.status).toBe(200);
    expect(readFileSync(await store.pathOf(stored.id)).subarray(1, 4).toString()).toBe('PNG');
    expect((await ask(dataUrl(fixtures.images.png32))).status).toBe(200);
    expect(counter.loads()).toBe(loads);
  });

  it('applies a rotated key to the next request', async () => {
    key = 'rotated-key-0123456789abcdef';
    try {
      const old = await raw(port(), { path: '/v1/models', headers: { Authorization: `Bearer ${KEY}` } });
      expect(old.status).toBe(401);
      const fresh = await raw(port(), { path: '/v1/models', headers: { Authorization: `Bearer ${key}` } });
      expect(fresh.status).toBe(200);
    } finally {
      key = KEY;
    }
  });
});

describe('image data: URLs', () => {
  it('decodes standard and line-wrapped base64, and refuses damaged base64 instead of shrinking the image', async () => {
    const { decodeDataUrl } = await import('../../electron/api/image-input');
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 250, 251]);
    const b64 = bytes.toString('base64');
    expect(Buffer.from(decodeDataUrl(`data:image/png;base64,${b64}`, 'p'))).toEqual(bytes);
    expect(Buffer.from(decodeDataUrl(`data:image/png;base64,${b64.slice(0, 4)}\r\n${b64.slice(4)}`, 'p'))).toEqual(bytes);
    expect(Buffer.from(decodeDataUrl(`data:image/png;base64,${b64.replace(/=+$/, '')}`, 'p'))).toEqual(bytes);
    expect(() => decodeDataUrl(`data:image/png;base64,${b64.slice(0, 4)}!${b64.slice(4)}`, 'p')).toThrow(/not valid base64/);
    // Damage a lenient decoder would turn into a shorter image: non-ASCII, a stray "=", a
    // dangling character, a group of bad characters.
    for (const damaged of [`${b64.slice(0, 8)}é${b64.slice(8)}`, `${b64.slice(0, 8)}=${b64.slice(9)}`, b64.slice(0, 13), `${b64.slice(0, 8)}****${b64.slice(8)}`]) {
      expect(() => decodeDataUrl(`data:image/png;base64,${damaged}`, 'p'), damaged).toThrow(/not valid base64/);
    }
    // URL-safe base64 is the same bytes.
    expect(Buffer.from(decodeDataUrl(`data:image/png;base64,${b64.replace(/\+/g, '-').replace(/\//g, '_')}`, 'p'))).toEqual(bytes);
    expect(() => decodeDataUrl(`data:image/png,${b64}`, 'p')).toThrow(/base64-encoded/);
    expect(() => decodeDataUrl('data:image/png;base64,', 'p')).toThrow(/no data/);
  });
});

describe('image data: URLs sent again', () => {
  it('stores an image resent every turn once, and stores it again after it was removed', async () => {
    const { storeImageUrl } = await import('../../electron/api/image-input');
    const { gradientPng } = await import('../../electron/fixtures/png');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-seen-'));
    try {
      const store = createAttachmentStore(dir);
      let adds = 0;
      const counted = { ...store, dir: store.dir, add: (d: Uint8Array) => (adds++, store.add(d)) };
      const options = { attachments: counted, fetchImages: false, seen: new Map() };
      const url = `data:image/png;base64,${gradientPng(48, 32).toString('base64')}`;
      const first = await storeImageUrl(url, 'p', options);
      const again = await storeImageUrl(url, 'p', options);
      expect(again).toEqual(first);
      expect(adds).toBe(1);
      rmSync(first.path);
      const restored = await storeImageUrl(url, 'p', options);
      expect(adds).toBe(2);
      expect(readFileSync(restored.path).length).toBeGreaterThan(0);
      // A damaged copy of a known image is still refused, not served from the cache.
      await expect(storeImageUrl(`${url.slice(0, 40)}!${url.slice(40)}`, 'p', options)).rejects.toThrow(/not valid base64/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
