// `firellava serve` with a fixed API key, for tests that call its /v1 API: the built CLI as a child
// process (startServer in serve.ts) on the tiny model with a 4096-token context (long enough to
// stop an answer half-way), and startServedApi, the whole set-up of the official-client tests.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { writeLlavaPair, type LlavaPairPaths } from '../../electron/fixtures/tiny-llava';
import { getFixtures, REPO_ROOT, type Fixtures } from './fixtures';
import { CLI, startServer, stopServer, type Served as ServeProcess } from './serve';

export { CLI };
export const KEY = 'api-test-key-0123456789abcdef';

/** Builds the CLI when missing (the API tests need no renderer). */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync(process.execPath, ['scripts/build-node.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/** The tiny test model with room for answers of a few thousand tokens. */
export function writeLongContextPair(dir: string): Promise<LlavaPairPaths> {
  return writeLlavaPair(dir, { tensorType: 'f32', text: { nCtx: 4096 } });
}

export const dataUrl = (file: string, mime = 'image/png'): string => `data:${mime};base64,${readFileSync(file).toString('base64')}`;

export interface Served extends ServeProcess {
  port: number;
  stop(): Promise<void>;
}

export async function startServe(pair: LlavaPairPaths, dataDir: string, extra: string[] = []): Promise<Served> {
  const served = await startServer(pair, dataDir, ['--api-key', KEY, ...extra]);
  return { ...served, port: Number(new URL(served.origin).port), stop: async () => void (await stopServer(served)) };
}

/** The model is loaded in the background after the URL is printed: wait until /v1/models lists it. */
export async function waitForModel(origin: string): Promise<string> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const r = await fetch(`${origin}/v1/models`, { headers: { Authorization: `Bearer ${KEY}` } });
    const body = (await r.json()) as { data: { id: string }[] };
    if (body.data[0]) {
      const probe = await fetch(`${origin}/v1/completions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: body.data[0].id, prompt: 'hi', max_tokens: 1 }),
      });
      if (probe.status === 200) return body.data[0].id;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the model did not become ready in 30 s');
}

export interface ServedApi {
  /** stop() also removes the temporary folder. */
  served: Served;
  /** The official client on /v1, without retries. */
  client: OpenAI;
  /** The id /v1/models lists. */
  model: string;
  /** The 32 px test PNG as a data: URL. */
  image: string;
  fixtures: Fixtures;
}

/** Serves the long-context pair from a new temporary folder and waits until it answers. */
export async function startServedApi(tmpPrefix: string): Promise<ServedApi> {
  ensureBuilt();
  const fixtures = await getFixtures();
  const tmp = mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  try {
    const served = await startServe(await writeLongContextPair(path.join(tmp, 'model')), path.join(tmp, 'data'));
    const stop = async (): Promise<void> => {
      await served.stop();
      rmSync(tmp, { recursive: true, force: true });
    };
    const model = await waitForModel(served.origin).catch(async (err: unknown) => {
      await stop();
      throw err;
    });
    const client = new OpenAI({ baseURL: `${served.origin}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
    return { served: { ...served, stop }, client, model, image: dataUrl(fixtures.images.png32), fixtures };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
