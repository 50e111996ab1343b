// Bundles main, preload, engine worker and CLI into flat CJS files that electron-builder can pack.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Native and Electron modules are resolved at run time, never bundled.
  external: ['electron', '@fugood/llama.node', 'better-sqlite3', 'node-llama-cpp'],
};

await Promise.all([
  build({ ...common, entryPoints: { 'main/main': 'electron/main/main.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' } }),
  build({ ...common, entryPoints: { 'preload/preload': 'electron/preload/preload.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' } }),
  build({ ...common, entryPoints: { 'engine/engine-worker': 'electron/engine/engine-worker.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' } }),
  build({ ...common, entryPoints: { 'cli/firellava': 'electron/cli/firellava.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' } }),
]);
