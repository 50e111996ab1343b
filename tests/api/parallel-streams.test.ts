// Two /v1 clients at once are served side by side in the engine's slots, not one after another.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiServer, type RunningApiServer } from '../../electron/api/api-server';
import { createAttachmentStore } from '../../electron/attachments/attachment-store';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { startEngine } from '../helpers/engine';
import { getFixtures } from '../helpers/fixtures';
import { KEY } from './api-helpers';

let engine: LocalEngine;
let server: RunningApiServer;
let tmp: string;

beforeAll(async () => {
  const fx = await getFixtures();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-api-parallel-'));
  engine = startEngine();
  expect((await engine.load(fx.pair)).ok).toBe(true);
  server = await startApiServer('127.0.0.1', 0, { engine, attachments: createAttachmentStore(path.join(tmp, 'data')), apiKey: () => KEY, corsOrigins: [], fetchImages: false });
});

afterAll(async () => {
  await server?.close();
  await engine?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Streamed {
  text: string;
  firstAt: number;
  lastAt: number;
}

/** Streams one chat completion; times are performance.now() of the first and last content chunk. */
function stream(question: string): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const out: Streamed = { text: '', firstAt: 0, lastAt: 0 };
    let buffer = '';
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method: 'POST', path: '/v1/chat/completions', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          const events = buffer.split('\n\n');
          buffer = events.pop() ?? '';
          for (const e of events) {
            const data = e.replace(/^data: /, '');
            if (data === '[DONE]' || !data.startsWith('{')) continue;
            const delta = (JSON.parse(data) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content;
            if (!delta) continue;
            out.firstAt ||= performance.now();
            out.lastAt = performance.now();
            out.text += delta;
          }
        });
        res.on('end', () => (res.statusCode === 200 ? resolve(out) : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'firellava', messages: [{ role: 'user', content: question }], max_tokens: 300, temperature: 0, seed: 3, stream: true }));
  });
}

it('two concurrent streams overlap in time and each equals its solo answer', async () => {
  expect(engine.status().slots?.total).toBeGreaterThan(1);
  const soloA = await stream('Tell me a long story about a lighthouse.');
  const soloB = await stream('Describe a busy market in detail.');
  const [a, b] = await Promise.all([stream('Tell me a long story about a lighthouse.'), stream('Describe a busy market in detail.')]);
  expect(a.text).toBe(soloA.text);
  expect(b.text).toBe(soloB.text);
  expect(a.text.length).toBeGreaterThan(0);
  // The second stream's first tokens arrive before the first stream ends.
  expect(b.firstAt).toBeLessThan(a.lastAt);
  expect(a.firstAt).toBeLessThan(b.lastAt);
});
