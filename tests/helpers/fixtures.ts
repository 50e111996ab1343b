// Generated test fixtures, written once per generator version into .cache/fixtures/v<N> and
// reused by every test file. Generation goes to a temp folder that is renamed into place, so
// concurrent test processes never see a half-written set.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTestImages, type TestImages } from '../../electron/fixtures/png';
import {
  FIXTURE_GENERATOR_VERSION,
  writeBrokenVariants,
  writeLlavaPair,
  type BrokenVariants,
  type LlavaPairPaths,
} from '../../electron/fixtures/tiny-llava';

export interface Fixtures {
  dir: string;
  /** Tiny F32 pair (64-wide, 2 layers). */
  pair: LlavaPairPaths;
  /** Same shapes with F16 matrices. */
  pairF16: LlavaPairPaths;
  broken: BrokenVariants;
  images: TestImages;
}

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
const CACHE_ROOT = join(REPO_ROOT, '.cache', 'fixtures');
const MANIFEST = 'manifest.json';

let pending: Promise<Fixtures> | undefined;

/** Relative paths in the manifest keep the cache valid if the checkout moves. */
function mapPaths<T>(value: T, fn: (p: string) => string): T {
  if (typeof value === 'string') return fn(value) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'truncatedTensor' ? v : mapPaths(v, fn)])) as T;
  }
  return value;
}

async function generate(dir: string): Promise<Omit<Fixtures, 'dir'>> {
  const pair = await writeLlavaPair(dir, { tensorType: 'f32' });
  const pairF16 = await writeLlavaPair(dir, { tensorType: 'f16' });
  const broken = await writeBrokenVariants(join(dir, 'broken'), pair);
  const images = await writeTestImages(join(dir, 'images'));
  return { pair, pairF16, broken, images };
}

async function load(dir: string): Promise<Fixtures | undefined> {
  try {
    const rel = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Omit<Fixtures, 'dir'>;
    const abs = mapPaths(rel, (p) => join(dir, p));
    const { truncatedTensor: _name, ...brokenPaths } = abs.broken;
    const all = [abs.pair, abs.pairF16, abs.images, brokenPaths].flatMap((o) => Object.values(o) as string[]);
    return all.every((p) => existsSync(p)) ? { dir, ...abs } : undefined;
  } catch {
    return undefined;
  }
}

async function build(): Promise<Fixtures> {
  const dir = join(CACHE_ROOT, `v${FIXTURE_GENERATOR_VERSION}`);
  const cached = await load(dir);
  if (cached) return cached;

  await mkdir(CACHE_ROOT, { recursive: true });
  const tmp = join(CACHE_ROOT, `.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  try {
    const made = await generate(tmp);
    const rel = mapPaths(made, (p) => p.slice(tmp.length + 1));
    await writeFile(join(tmp, MANIFEST), JSON.stringify(rel, null, 2));
    try {
      await rename(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Another process may have put a complete set there first: keep it. Otherwise it is stale.
      if (!(await load(dir))) {
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const ready = await load(dir);
  if (!ready) throw new Error(`fixtures in ${dir} are incomplete after generation`);
  return ready;
}

/** Paths of all generated fixtures; generates them on first use. */
export function getFixtures(): Promise<Fixtures> {
  pending ??= build().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}
