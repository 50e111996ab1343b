// Bundles main, preload, engine worker and CLI into flat CJS files that electron-builder can pack.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  // Native and Electron modules are resolved at run time, never bundled.
  external: ['electron', '@fugood/llama.node', 'better-sqlite3', 'node-llama-cpp', 'sharp', 'electron-updater'],
};

const bundles = {
  'main/main': 'electron/main/main.ts',
  'preload/preload': 'electron/preload/preload.ts',
  'engine/engine-worker': 'electron/engine/engine-worker.ts',
  'cli/firellava': 'electron/cli/firellava.ts',
  'convert/convert-worker': 'electron/convert/convert-worker.ts',
};
if (process.argv.includes('--bench')) bundles['bench/bench'] = 'bench/bench.ts';

await Promise.all(Object.entries(bundles).map(([out, entry]) => build({ ...common, entryPoints: { [out]: entry } })));
