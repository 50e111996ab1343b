// The "Get FireLLaVA" contract calls on the real backend (real engine, HTTP-free dispatcher):
// plan, start → events to ready → loaded and answering, cancel and discard, refusals.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createBackend, type Backend } from '../../electron/backend/backend';
import { hfOriginFromEnv } from '../../electron/convert/get-firellava-job';
import type { LocalEngine } from '../../electron/engine/engine-host';
import { writeHfCheckpoint } from '../../electron/fixtures/hf-checkpoint';
import type { ConversionEvent, ConversionJob } from '../../electron/shared/contracts/conversion';
import { startEngine } from '../helpers/engine';
import { startHfServer, type HfServer } from './get-firellava-server';

let tmp: string;
let hf: HfServer;
let engine: LocalEngine;
let backend: Backend;
const CTX = { transport: 'http' as const };
const savedEnv = { origin: process.env.FIRELLAVA_HF_ORIGIN, token: process.env.HF_TOKEN, hub: process.env.HUGGING_FACE_HUB_TOKEN };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'get-firellava-handlers-'));
  await writeHfCheckpoint(path.join(tmp, 'ck'), { shards: 2 });
  hf = await startHfServer(path.join(tmp, 'ck'), tmp);
  process.env.FIRELLAVA_HF_ORIGIN = hf.origin;
  delete process.env.HF_TOKEN;
  delete process.env.HUGGING_FACE_HUB_TOKEN;
  engine = startEngine();
  backend = createBackend({ dataDir: path.join(tmp, 'data'), engine, app: { name: 'FireLLaVA', version: 'test' } });
});

afterAll(async () => {
  await backend?.close();
  await engine?.dispose();
  await hf?.close();
  for (const [k, v] of [['FIRELLAVA_HF_ORIGIN', savedEnv.origin], ['HF_TOKEN', savedEnv.token], ['HUGGING_FACE_HUB_TOKEN', savedEnv.hub]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const call = async <T>(name: string, input: unknown): Promise<T> => {
  const r = await backend.dispatcher.call(name, input, CTX);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
};

/** Follows convert.watch until job `id` leaves 'running'. */
function untilSettled(id: string, onEvent?: (j: ConversionJob) => void): { events: ConversionJob[]; settled: Promise<ConversionJob> } {
  const events: ConversionJob[] = [];
  const ac = new AbortController();
  const settled = new Promise<ConversionJob>((resolve) => {
    void backend.dispatcher.stream('convert.watch', {}, {
      ctx: CTX,
      signal: ac.signal,
      emit: (e: unknown) => {
        const job = (e as ConversionEvent).job;
        if (job?.id !== id) return;
        events.push(job);
        onEvent?.(job);
        if (job.state !== 'running') {
          ac.abort();
          resolve(job);
        }
      },
    });
  });
  return { events, settled };
}

describe('convert.* calls', () => {
  test('plan: quants with sizes, download size, license, token state; bad input refused', async () => {
    const plan = await call<import('../../electron/shared/contracts/conversion').ConversionPlan>('convert.plan', {});
    expect(plan.repo).toBe('fireworks-ai/FireLLaVA-13b');
    expect(plan.license.name).toBe('Llama 2 Community License');
    expect(plan.pageUrl).toBe(`${hf.origin}/fireworks-ai/FireLLaVA-13b`);
    expect(plan.token).toEqual({ known: false, saved: false, fromEnvironment: false, canSave: false });
    expect(plan.listError).toBeNull();
    const sizes = [...hf.sizes.values()].reduce((a, b) => a + b, 0);
    expect(plan.download).toEqual({ totalBytes: sizes, haveBytes: 0, files: hf.sizes.size });
    expect(plan.quants.map((q) => q.quant)).toEqual(expect.arrayContaining(['f16', 'q8_0', 'q4_0']));
    const q = Object.fromEntries(plan.quants.map((x) => [x.quant, x.outputBytes!]));
    expect(q.q4_0!).toBeLessThan(q.q8_0!);
    expect(q.q8_0!).toBeLessThan(q.f16!);
    expect(plan.quants.filter((x) => x.recommended).map((x) => x.quant)).toEqual([plan.defaultQuant]);
    expect(plan.freeBytes).toBeGreaterThan(0);
    const bad = await backend.dispatcher.call('convert.plan', { repo: '../..' }, CTX);
    expect(bad.ok).toBe(false);
    const badQuant = await backend.dispatcher.call('convert.start', { quant: 'q9_9' }, CTX);
    expect(!badQuant.ok && badQuant.error.message).toMatch(/Unknown quantization "q9_9": choose one of/);
  });

  test('cancel keeps the download, discard frees it; start again goes to ready, active and loaded', async () => {
    hf.server.throttle = 32 * 1024;
    // A double click: exactly one job starts.
    const both = await Promise.all([backend.dispatcher.call('convert.start', { quant: 'q4_0' }, CTX), backend.dispatcher.call('convert.start', { quant: 'q4_0' }, CTX)]);
    expect(both.filter((r) => r.ok)).toHaveLength(1);
    expect(both.map((r) => (r.ok ? '' : r.error.message)).join('')).toMatch(/already running/);
    const job1 = both.find((r) => r.ok)!.value as ConversionJob;
    const first = untilSettled(job1.id, (j) => {
      if (j.phase === 'download' && j.progress.bytesDone > 10_000) void call('convert.cancel', {});
    });
    const busy = await backend.dispatcher.call('convert.start', { quant: 'q4_0' }, CTX);
    expect(!busy.ok && busy.error.message).toMatch(/already running/);
    const cancelled = await first.settled;
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.error?.action).toMatch(/resume/);
    const plan = await call<{ download: { haveBytes: number } }>('convert.plan', {});
    expect(plan.download.haveBytes).toBeGreaterThan(10_000);
    const { freedBytes } = await call<{ freedBytes: number }>('convert.discard', {});
    expect(freedBytes).toBeGreaterThan(10_000);
    expect((await call<{ download: { haveBytes: number } }>('convert.plan', {})).download.haveBytes).toBe(0);

    hf.server.throttle = 0;
    const started = await call<ConversionJob>('convert.start', { quant: 'q4_0' });
    const second = untilSettled(started.id);
    expect(started).toMatchObject({ state: 'running', deleteCheckpoint: true, activate: true });
    const done = await second.settled;
    expect(done.state).toBe('ready');
    expect(done.result?.model).toMatchObject({ id: 'firellava-13b-q4_0', status: 'ready', active: true });
    expect(done.result?.checkpointDeleted).toBe(true);
    expect(new Set(second.events.map((e) => e.phase))).toEqual(new Set(['download', 'convert', 'verify', 'ready']));
    // The model manager lists it; the engine loads it.
    const list = await call<{ id: string; status: string; active: boolean }[]>('models.list', {});
    expect(list.map((m) => [m.id, m.status, m.active])).toEqual([['firellava-13b-q4_0', 'ready', true]]);
    await expect.poll(() => engine.status().state, { timeout: 20_000 }).toBe('ready');
    expect(engine.status().model?.path).toMatch(/firellava-13b-q4_0[\\/]FireLLaVA-13b-q4_0\.gguf$/);
    const plan2 = await call<{ quants: { quant: string; installed: boolean }[] }>('convert.plan', {});
    expect(plan2.quants.find((x) => x.quant === 'q4_0')?.installed).toBe(true);
    const job3 = await call<ConversionJob>('convert.start', { quant: 'q4_0' });
    const refused = await untilSettled(job3.id).settled;
    expect(refused.error?.reason).toBe('ALREADY_INSTALLED');
  }, 60_000);

  test('FIRELLAVA_HF_ORIGIN is honoured only for loopback addresses', () => {
    expect(hfOriginFromEnv({})).toBe('https://huggingface.co');
    expect(hfOriginFromEnv({ FIRELLAVA_HF_ORIGIN: 'http://127.0.0.1:4000/' })).toBe('http://127.0.0.1:4000');
    expect(() => hfOriginFromEnv({ FIRELLAVA_HF_ORIGIN: 'https://evil.example' })).toThrow(/must be an http:\/\/127\.0\.0\.1:PORT/);
  });
});

describe('the token comes from the model manager (keychain in the app)', () => {
  test('a token saved with models.setToken is known to convert.plan and opens the gated repo', async () => {
    const gated = await startHfServer(path.join(tmp, 'ck'), tmp, { token: 'hf_keychaintoken1' });
    let saved: string | null = null;
    const store = { read: async () => saved, write: async (t: string | null) => void (saved = t) };
    const prev = process.env.FIRELLAVA_HF_ORIGIN;
    process.env.FIRELLAVA_HF_ORIGIN = gated.origin;
    const b = createBackend({ dataDir: path.join(tmp, 'data-keychain'), engine, app: { name: 'FireLLaVA', version: 'test' }, hfTokenStore: store });
    process.env.FIRELLAVA_HF_ORIGIN = prev;
    const callB = async <T>(name: string, input: unknown): Promise<T> => {
      const r = await b.dispatcher.call(name, input, CTX);
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      return r.value as T;
    };
    try {
      expect((await callB<{ token: object }>('convert.plan', {})).token).toEqual({ known: false, saved: false, fromEnvironment: false, canSave: true });
      await callB('models.setToken', { token: 'hf_keychaintoken1' });
      expect((await callB<{ token: object }>('convert.plan', {})).token).toEqual({ known: true, saved: true, fromEnvironment: false, canSave: true });
      await callB('convert.start', { quant: 'q8_0', activate: false });
      await expect.poll(async () => (await callB<{ job: ConversionJob }>('convert.plan', {})).job.state, { timeout: 20_000 }).toBe('ready');
      const auth = gated.server.requests.filter((q) => q.name.includes('/resolve/')).map((q) => q.authorization);
      expect(auth.length).toBeGreaterThan(0);
      expect(new Set(auth)).toEqual(new Set(['Bearer hf_keychaintoken1']));
      // activate: false, but the only pair becomes the active one, as after a pull.
      const list = await callB<{ id: string; active: boolean }[]>('models.list', {});
      expect(list.map((m) => [m.id, m.active])).toEqual([['firellava-13b-q8_0', true]]);
    } finally {
      await b.close();
      await gated.close();
    }
  }, 60_000);
});

