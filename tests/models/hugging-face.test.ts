import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../electron/models/catalog';
import { authHeaders, hfFileUrl, hfRepoPage, hfTokenFrom, redactToken } from '../../electron/models/hugging-face';
import { downloadFile } from '../../electron/models/range-downloader';
import { getFixtures } from '../helpers/fixtures';
import { startLoopbackServer } from './loopback-server';

describe('Hugging Face addresses and token', () => {
  it('builds resolve URLs and finds the repo page to accept a license', () => {
    expect(hfFileUrl('fireworks-ai/FireLLaVA-13b', 'gguf/model Q4.gguf')).toBe('https://huggingface.co/fireworks-ai/FireLLaVA-13b/resolve/main/gguf/model%20Q4.gguf');
    expect(hfFileUrl('a/b', 'm.gguf', 'v1.0')).toBe('https://huggingface.co/a/b/resolve/v1.0/m.gguf');
    expect(hfRepoPage('https://huggingface.co/mys/ggml_llava-v1.5-7b/resolve/main/ggml-model-q5_k.gguf')).toBe('https://huggingface.co/mys/ggml_llava-v1.5-7b');
    expect(hfRepoPage('https://example.com/mys/x/resolve/main/m.gguf')).toBeNull();
  });

  it('takes the token from the flag, then HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, and sends it to huggingface.co only', () => {
    expect(hfTokenFrom('hf_flag', { HF_TOKEN: 'hf_env' })).toBe('hf_flag');
    expect(hfTokenFrom(undefined, { HF_TOKEN: 'hf_env', HUGGING_FACE_HUB_TOKEN: 'hf_hub' })).toBe('hf_env');
    expect(hfTokenFrom(undefined, { HUGGING_FACE_HUB_TOKEN: 'hf_hub' })).toBe('hf_hub');
    expect(hfTokenFrom(undefined, { HF_TOKEN: '  ' })).toBeNull();
    expect(authHeaders('https://huggingface.co/a/b/resolve/main/m.gguf', 'hf_x')).toEqual({ authorization: 'Bearer hf_x' });
    expect(authHeaders('https://evil.example/a/b/resolve/main/m.gguf', 'hf_x')).toEqual({});
    expect(redactToken('failed with hf_abcdefghijklmnop and secret-token', 'secret-token')).toBe('failed with hf_*** and ***');
  });

  it('drops the Authorization header when a redirect leaves the origin (the CDN)', async () => {
    const fx = await getFixtures();
    const cdn = await startLoopbackServer({ 'blob/m.gguf': { path: fx.pair.mmproj } });
    const hub = await startLoopbackServer({ 'repo/m.gguf': { path: fx.pair.mmproj, redirectTo: cdn.url('blob/m.gguf') } });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-redirect-'));
    try {
      const r = await downloadFile({ url: hub.url('repo/m.gguf'), dest: path.join(dir, 'm.gguf'), headers: { authorization: 'Bearer hf_secret' } });
      expect(r.size).toBe(readFileSync(fx.pair.mmproj).length);
      expect(hub.requests[0]?.authorization).toBe('Bearer hf_secret');
      expect(cdn.requests.map((q) => q.authorization)).toEqual([null]);
    } finally {
      await Promise.all([cdn.close(), hub.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('catalog data', () => {
  const good = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'resources', 'catalog.json'), 'utf8')) as { models: Record<string, unknown>[] };

  it('rejects an entry that offers a download without an address', () => {
    const bad = structuredClone(good);
    bad.models[0]!.downloadable = true;
    expect(() => parseCatalog(bad)).toThrow(/firellava-13b: downloadable but a file has no URL/);
  });

  it('rejects an entry without its projector', () => {
    const bad = structuredClone(good);
    bad.models[1]!.files = (bad.models[1]!.files as { role: string }[]).filter((f) => f.role === 'model');
    expect(() => parseCatalog(bad)).toThrow(/needs exactly one model and one mmproj file/);
  });
});
