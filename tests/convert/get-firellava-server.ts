// A Hugging Face-like origin on 127.0.0.1 for the "Get FireLLaVA" tests: the tree API listing
// (public, as for gated repos) and /<repo>/resolve/<rev>/<file> with Range, cuts and a token gate,
// serving a tiny checkpoint written by electron/fixtures/hf-checkpoint.ts.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLoopbackServer, type LoopbackServer, type ServedFile } from '../models/loopback-server';

export interface HfRepoOptions {
  repo?: string;
  revision?: string;
  /** Files need this bearer token (401 without, 403 with another). */
  token?: string;
  /** Left out of the listing and the server (still named in the index). */
  drop?: string[];
  /** Per file: extra ServedFile settings (cutAt, failFirst, ...). */
  tweak?: Record<string, Partial<ServedFile>>;
}

export interface HfServer {
  server: LoopbackServer;
  origin: string;
  repo: string;
  /** Served name of a repo file (key of server.files / served). */
  name(file: string): string;
  /** Sizes of the checkpoint's files. */
  sizes: Map<string, number>;
  close(): Promise<void>;
}

export async function startHfServer(checkpointDir: string, listingDir: string, o: HfRepoOptions = {}): Promise<HfServer> {
  const repo = o.repo ?? 'fireworks-ai/FireLLaVA-13b';
  const revision = o.revision ?? 'main';
  const drop = new Set(o.drop ?? []);
  const files: Record<string, ServedFile> = {};
  const tree: object[] = [];
  const sizes = new Map<string, number>();
  const name = (f: string): string => `${repo}/resolve/${revision}/${f}`;
  for (const f of readdirSync(checkpointDir).sort()) {
    const p = join(checkpointDir, f);
    const size = statSync(p).size;
    sizes.set(f, size);
    if (drop.has(f)) continue;
    const lfs = f.endsWith('.safetensors') || f === 'tokenizer.model';
    const sha = createHash('sha256').update(readFileSync(p)).digest('hex');
    tree.push({ type: 'file', oid: sha.slice(0, 40), size, path: f, ...(lfs ? { lfs: { oid: sha, size, pointerSize: 134 } } : {}) });
    files[name(f)] = { path: p, ...(o.token ? { token: o.token } : {}), ...o.tweak?.[f] };
  }
  tree.push({ type: 'file', oid: '0'.repeat(40), size: 12, path: 'README.md' }, { type: 'directory', oid: '1'.repeat(40), size: 0, path: 'images' });
  const listing = join(listingDir, `tree-${repo.replace('/', '_')}-${revision}.json`);
  writeFileSync(listing, JSON.stringify(tree));
  files[`api/models/${repo}/tree/${revision}`] = { path: listing };
  const server = await startLoopbackServer(files);
  return { server, origin: server.origin, repo, name, sizes, close: () => server.close() };
}
