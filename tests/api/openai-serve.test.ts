// The OpenAI-compatible API of `firellava serve`, driven by the official `openai` client (a real
// client nobody here wrote) and by raw HTTP, against the tiny generated model.
import http from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures } from '../helpers/fixtures';
import { startServedApi, type Served } from '../helpers/served-api';
import { errorOf, KEY, postJson, raw } from './api-helpers';

const GREEDY = { temperature: 0, seed: 7 } as const;

describe('firellava serve: OpenAI-compatible API under /v1', () => {
  let fixtures: Fixtures, served: Served, client: OpenAI, model: string, image: string;
  beforeAll(async () => void ({ fixtures, served, client, model, image } = await startServedApi('firellava-api-')));
  afterAll(() => served?.stop());

  const imageQuestion = (text = 'What is in this picture?'): OpenAI.Chat.ChatCompletionMessageParam[] => [
    { role: 'system', content: 'You are a careful visual assistant.' },
    { role: 'user', content: [{ type: 'text', text }, { type: 'image_url', image_url: { url: image, detail: 'high' } }] },
  ];

  describe('with the openai client', () => {
    it('logs each request on stderr with the x-request-id the client saw', async () => {
      const { data, request_id } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, ...GREEDY }).withResponse();
      expect(data.choices).toHaveLength(1);
      expect(request_id).toMatch(/^req-[0-9a-f]{24}$/);
      const missing = await client.models.retrieve('no-such-model').catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      expect(missing).toBeInstanceOf(OpenAI.APIError);
      const missingId = (missing as InstanceType<typeof OpenAI.APIError>).requestID;
      expect(missingId).toMatch(/^req-/);
      expect(missingId).not.toBe(request_id);
      await expect.poll(() => served.stderr()).toMatch(new RegExp(`^api ${request_id} POST /v1/chat/completions 200 \\d+ms$`, 'm'));
      await expect.poll(() => served.stderr()).toMatch(new RegExp(`^api ${missingId} GET /v1/models/no-such-model 404 \\d+ms$`, 'm'));
    });

    it('lists the loaded model', async () => {
      const list = await client.models.list();
      expect(list.data.map((m) => m.id)).toEqual([model]);
    });

    it('answers when the same image is sent in two turns, and twice in one message', async () => {
      const [first] = imageQuestion('What is this?').slice(-1) as [{ role: 'user'; content: OpenAI.Chat.ChatCompletionContentPart[] }];
      const twoTurns = await client.chat.completions.create({
        model,
        messages: [first, { role: 'assistant', content: 'A gradient.' }, { role: 'user', content: [...first.content.filter((p) => p.type === 'image_url'), { type: 'text', text: 'And now?' }] }],
        max_tokens: 8,
        ...GREEDY,
      });
      expect(twoTurns.choices[0]!.message.content!.length).toBeGreaterThan(0);
      const twice = await client.chat.completions.create({ model, messages: [{ role: 'user', content: [...first.content, ...first.content] }], max_tokens: 8, ...GREEDY });
      expect(twice.choices[0]!.message.content!.length).toBeGreaterThan(0);
    });

    it('reads an image sent as a file part (AI SDK, LlamaIndex), and refuses a file that is not an image', async () => {
      const url = (imageQuestion('x').slice(-1)[0]!.content as OpenAI.Chat.ChatCompletionContentPartImage[]).find((p) => p.type === 'image_url')!.image_url.url;
      const filePart = (file_data: string) => ({ type: 'file' as const, file: { file_data, filename: 'photo.png' } });
      const asFile = await client.chat.completions.create({ model, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, filePart(url)] }], max_tokens: 8, ...GREEDY });
      const asImage = await client.chat.completions.create({ model, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url } }] }], max_tokens: 8, ...GREEDY });
      expect(asFile.choices[0]!.message.content).toBe(asImage.choices[0]!.message.content);
      expect(asFile.usage!.prompt_tokens).toBe(asImage.usage!.prompt_tokens);
      const pdf = await client.chat.completions
        .create({ model, messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise' }, filePart('data:application/pdf;base64,JVBERi0xLjQK')] }], max_tokens: 8 })
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      expect(pdf).toBeInstanceOf(OpenAI.APIError);
      expect((pdf as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
      expect((pdf as InstanceType<typeof OpenAI.APIError>).message).toMatch(/application\/pdf.*only image files/);
    });

    it('reports a text answer cut by max_tokens as length, counting every token (max_tokens 1 too)', async () => {
      for (const max_tokens of [1, 4]) {
        const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Write a long story about a red mug.' }], max_tokens, ...GREEDY });
        expect(r.choices[0]!.finish_reason).toBe('length');
        expect(r.usage!.completion_tokens).toBe(max_tokens);
      }
    });

    it('answers a chat with an image (non-stream), with usage that counts the image', async () => {
      const withImage = await client.chat.completions.create({ model: 'firellava-13b', messages: imageQuestion(), max_tokens: 16, ...GREEDY });
      const textOnly = await client.chat.completions.create({
        model: 'firellava-13b',
        messages: [{ role: 'system', content: 'You are a careful visual assistant.' }, { role: 'user', content: 'What is in this picture?' }],
        max_tokens: 16,
        ...GREEDY,
      });
      const choice = withImage.choices[0]!;
      expect(withImage.object).toBe('chat.completion');
      expect(withImage.model).toBe('firellava-13b');
      expect(choice.message.role).toBe('assistant');
      expect(choice.message.content!.length).toBeGreaterThan(0);
      expect(['stop', 'length']).toContain(choice.finish_reason);
      const usage = withImage.usage!;
      expect(usage.completion_tokens).toBeGreaterThan(0);
      expect(usage.completion_tokens).toBeLessThanOrEqual(16);
      expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
      // The image's embedding tokens are part of the prompt.
      expect(usage.prompt_tokens).toBeGreaterThan(textOnly.usage!.prompt_tokens);
    });

    it('streams the same answer in OpenAI chunks, with role first, finish_reason and a usage chunk', async () => {
      const whole = await client.chat.completions.create({ model, messages: imageQuestion('Describe it.'), max_tokens: 20, ...GREEDY });
      const stream = await client.chat.completions.create({
        model,
        messages: imageQuestion('Describe it.'),
        max_tokens: 20,
        stream: true,
        stream_options: { include_usage: true },
        ...GREEDY,
      });
      const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks[0]!.object).toBe('chat.completion.chunk');
      expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
      expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
      const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(content).toBe(whole.choices[0]!.message.content);
      const finishes = chunks.flatMap((c) => c.choices.map((x) => x.finish_reason)).filter((f) => f !== null);
      expect(finishes).toEqual([whole.choices[0]!.finish_reason]);
      const last = chunks[chunks.length - 1]!;
      expect(last.choices).toEqual([]);
      // (The count may differ by one from the non-stream run: the prompt is served from the KV cache.)
      expect(last.usage!.completion_tokens).toBeGreaterThan(0);
      expect(last.usage!.completion_tokens).toBeLessThanOrEqual(20);
      expect(last.usage!.prompt_tokens).toBe(whole.usage!.prompt_tokens);
      expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    });

    it('completes a raw prompt (/v1/completions), streamed and not', async () => {
      const prompt = 'A careful visual assistant.\n\nUSER: Name three colours.\nASSISTANT:';
      const done = await client.completions.create({ model, prompt, max_tokens: 12, ...GREEDY });
      expect(done.object).toBe('text_completion');
      expect(done.choices[0]!.text.length).toBeGreaterThan(0);
      expect(done.usage!.completion_tokens).toBeGreaterThan(0);
      expect(done.usage!.prompt_tokens).toBeGreaterThan(5);
      const stream = await client.completions.create({ model, prompt, max_tokens: 12, stream: true, stream_options: { include_usage: true }, ...GREEDY });
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.text ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe(done.choices[0]!.text);
      expect(usage!.completion_tokens).toBeGreaterThan(0);
      expect(usage!.completion_tokens).toBeLessThanOrEqual(12);
      expect(usage!.prompt_tokens).toBe(done.usage!.prompt_tokens);
    });

    it('places the image at <image> in a raw prompt (Fireworks\' images field)', async () => {
      const prompt = 'USER: <image>\nWhat is this?\nASSISTANT:';
      const plain = await client.completions.create({ model, prompt: prompt.replace('<image>', ''), max_tokens: 4, ...GREEDY });
      const withImage = await client.completions.create({ model, prompt, max_tokens: 4, ...GREEDY, images: [image] } as OpenAI.CompletionCreateParamsNonStreaming);
      expect(withImage.usage!.prompt_tokens).toBeGreaterThan(plain.usage!.prompt_tokens);
    });

    it('applies presence and frequency penalties: the same question answers differently', async () => {
      const ask = (extra: { presence_penalty?: number; frequency_penalty?: number }) =>
        client.chat.completions.create({ model: 'firellava-13b', messages: [{ role: 'user', content: 'List the colours.' }], max_tokens: 48, ...GREEDY, ...extra });
      const plain = (await ask({})).choices[0]!.message.content;
      const penalized = (await ask({ presence_penalty: 1, frequency_penalty: 1.5 })).choices[0]!.message.content;
      expect(penalized).not.toBe(plain);
    });

    it('stops at a stop sequence, streamed and not, without including it', async () => {
      const free = await client.chat.completions.create({ model, messages: imageQuestion('Tell me more.'), max_tokens: 32, ...GREEDY });
      const full = free.choices[0]!.message.content!;
      expect(full.length).toBeGreaterThan(8);
      const stop = full.slice(4, 7);
      const expected = full.slice(0, full.indexOf(stop));
      const stopped = await client.chat.completions.create({ model, messages: imageQuestion('Tell me more.'), max_tokens: 32, stop: [stop], ...GREEDY });
      expect(stopped.choices[0]!.message.content).toBe(expected);
      expect(stopped.choices[0]!.finish_reason).toBe('stop');
      const stream = await client.chat.completions.create({ model, messages: imageQuestion('Tell me more.'), max_tokens: 32, stop, stream: true, ...GREEDY });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe(expected);
    });

    it('surfaces errors as the client\'s typed errors', async () => {
      const wrongKey = new OpenAI({ baseURL: `${served.origin}/v1`, apiKey: 'not-the-key-0123456789', maxRetries: 0 });
      await expect(wrongKey.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

      const truncated = `data:image/png;base64,${(await import('node:fs')).readFileSync(fixtures.images.truncatedPng).toString('base64')}`;
      const bad = client.chat.completions.create({ model, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: truncated } }] }] });
      await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
      await expect(bad).rejects.toMatchObject({ status: 400, param: 'messages[0].content[0].image_url', message: expect.stringMatching(/truncated/i) });

      const unknown = client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      await expect(unknown).rejects.toBeInstanceOf(OpenAI.NotFoundError);

      const huge = `data:image/png;base64,${'A'.repeat(26 * 1024 * 1024)}`;
      const tooLarge = client.chat.completions.create({ model, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: huge } }] }] });
      await expect(tooLarge).rejects.toBeInstanceOf(OpenAI.APIError);
      await expect(tooLarge).rejects.toMatchObject({ status: 413, type: 'invalid_request_error', message: expect.stringMatching(/25 MB/) });

      // The server is fine afterwards.
      const after = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
      expect(after.choices[0]!.message.content).toBeTypeOf('string');
    });
  });

  describe('raw HTTP', () => {
    const chat = { model: 'firellava-13b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };

    it('needs the key: missing or wrong gives 401 in OpenAI\'s error shape', async () => {
      const missing = await postJson(served.port, '/v1/chat/completions', chat, { Authorization: '' });
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer');
      expect(errorOf(missing)).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
      const wrong = await postJson(served.port, '/v1/chat/completions', chat, { Authorization: 'Bearer wrong-key-0123456789abcdef' });
      expect(wrong.status).toBe(401);
      expect(errorOf(wrong)).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key', param: null });
      // A cookie is the web UI's credential, never the API's.
      const cookie = await raw(served.port, { path: '/v1/models', headers: { Cookie: `firellava_key_${served.port}=${KEY}` } });
      expect(cookie.status).toBe(401);
    });

    it('refuses a foreign Host header (DNS rebinding) even with the key', async () => {
      const r = await postJson(served.port, '/v1/chat/completions', chat, { Host: `evil.example:${served.port}` });
      expect(r.status).toBe(403);
      expect(errorOf(r).message).toMatch(/Host/);
      const ok = await raw(served.port, { path: '/v1/models', headers: { Host: `localhost:${served.port}`, Authorization: `Bearer ${KEY}` } });
      expect(ok.status).toBe(200);
    });

    it('refuses cross-origin browser calls and preflights when no origins are configured', async () => {
      const r = await postJson(served.port, '/v1/chat/completions', chat, { Origin: 'https://evil.example' });
      expect(r.status).toBe(403);
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      const pre = await raw(served.port, { method: 'OPTIONS', path: '/v1/chat/completions', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
      expect(pre.status).toBe(403);
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('answers 413 to a body over 25 MB', async () => {
      const body = JSON.stringify({ ...chat, pad: 'x'.repeat(25 * 1024 * 1024 + 10) });
      const r = await postJson(served.port, '/v1/chat/completions', body);
      expect(r.status).toBe(413);
      expect(errorOf(r)).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    });

    it('answers 400 to malformed JSON, n=2, a non-object body and an http image URL', async () => {
      const malformed = await postJson(served.port, '/v1/chat/completions', '{"model": "x", messages: [}');
      expect(malformed.status).toBe(400);
      expect(errorOf(malformed)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });

      const n2 = await postJson(served.port, '/v1/chat/completions', { ...chat, n: 2 });
      expect(n2.status).toBe(400);
      expect(errorOf(n2)).toMatchObject({ param: 'n', message: expect.stringMatching(/n must be 1/) });

      const array = await postJson(served.port, '/v1/completions', '[1,2]');
      expect(array.status).toBe(400);

      const remote = await postJson(served.port, '/v1/chat/completions', {
        ...chat,
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
      });
      expect(remote.status).toBe(400);
      expect(errorOf(remote)).toMatchObject({ code: 'image_url_fetch_disabled', message: expect.stringMatching(/data: URL/) });

      const missingMessages = await postJson(served.port, '/v1/chat/completions', { model: 'firellava-13b' });
      expect(missingMessages.status).toBe(400);
      expect(errorOf(missingMessages).param).toBe('messages');
    });

    it('answers 404 to an unknown model and to an unknown route', async () => {
      const r = await postJson(served.port, '/v1/chat/completions', { ...chat, model: 'llama-3-70b' });
      expect(r.status).toBe(404);
      expect(errorOf(r)).toMatchObject({ code: 'model_not_found', param: 'model', message: expect.stringContaining(model) });
      const route = await postJson(served.port, '/v1/embeddings', { model, input: 'x' });
      expect(route.status).toBe(404);
      // The app's own calls (chat history included) are not reachable through the API's paths.
      const escape = await postJson(served.port, '/v1/../rpc/app.info', {});
      expect(escape.status).toBe(404);
      expect(errorOf(escape).type).toBe('invalid_request_error');
    });

    it('keeps the rest of the server as it was: /rpc still needs its key, the web UI its link', async () => {
      const rpc = await raw(served.port, { method: 'POST', path: '/rpc/app.info', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(rpc.status).toBe(401);
      const page = await raw(served.port, { path: '/' });
      expect(page.status).toBe(401);
      expect(page.headers['content-security-policy']).toBeDefined();
    });

    it('stops generating at once when the client hangs up mid-stream; the next request is not delayed', async () => {
      const long = { model, messages: [{ role: 'user', content: 'Tell me a very long story.' }], max_tokens: 3000, temperature: 0, seed: 7 };
      const t0 = performance.now();
      const full = await postJson(served.port, '/v1/chat/completions', long);
      const fullMs = performance.now() - t0;
      const fullTokens = (JSON.parse(full.body) as { usage: { completion_tokens: number } }).usage.completion_tokens;
      // Only meaningful if the uninterrupted answer takes a while.
      expect(fullTokens).toBeGreaterThan(1000);

      const firstChunk = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: served.port, method: 'POST', path: '/v1/chat/completions', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } },
          (res) => {
            res.once('data', (d: Buffer) => {
              req.destroy(); // hang up half-way
              resolve(d.toString());
            });
          },
        );
        req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
        req.end(JSON.stringify({ ...long, stream: true }));
      });
      expect(firstChunk).toContain('chat.completion.chunk');

      const t1 = performance.now();
      const next = await postJson(served.port, '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
      const nextMs = performance.now() - t1;
      expect(next.status).toBe(200);
      expect((JSON.parse(next.body) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBeTypeOf('string');
      // Had the abandoned answer run on, this request would have waited for most of fullMs.
      expect(nextMs).toBeLessThan(fullMs / 3);
    });
  });
});
