// Builds the renderer into dist/renderer: loaded by Electron through app:// and served by
// `firellava serve`. Relative base so both origins work.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'chrome130',
    // No inline polyfill: the CSP allows only same-origin script files.
    modulePreload: { polyfill: false },
  },
});
