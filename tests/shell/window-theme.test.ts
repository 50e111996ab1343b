// The window frame follows the app's theme: which themeSource and background main gives Electron,
// that they match the page's own colours, that the choice survives a restart, and that
// app.setTheme takes only a theme (electron/main/window-theme.ts, contracts/core.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCoreHandlers } from '../../electron/backend/core-handlers';
import { readWindowTheme, WINDOW_BACKGROUND, windowBackground, writeWindowTheme } from '../../electron/main/window-theme';
import { coreContract } from '../../electron/shared/contracts/core';
import { createDispatcher } from '../../electron/shared/dispatcher';
import type { Theme } from '../../electron/shared/theme';
import { REPO_ROOT } from '../helpers/fixtures';
import { createTestBackend } from '../helpers/test-backend';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-window-theme-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('window background', () => {
  it('a light choice gives a light frame even on a dark system, and the reverse', () => {
    expect(windowBackground('light', true)).toBe('#ffffff');
    expect(windowBackground('dark', false)).toBe('#18181b');
  });

  it('the system choice paints the OS’s scheme', () => {
    expect(windowBackground('system', true)).toBe('#18181b');
    expect(windowBackground('system', false)).toBe('#ffffff');
  });

  it('paints the page’s own background (theme.css --bg), so nothing flashes before the page', () => {
    const css = readFileSync(path.join(REPO_ROOT, 'renderer', 'src', 'theme.css'), 'utf8');
    const bg = /--bg:\s*light-dark\(\s*(#[0-9a-f]+)\s*,\s*(#[0-9a-f]+)\s*\)/i.exec(css);
    expect(bg, 'theme.css declares --bg as light-dark(light, dark)').not.toBeNull();
    expect([bg![1]!.toLowerCase(), bg![2]!.toLowerCase()]).toEqual([WINDOW_BACKGROUND.light, WINDOW_BACKGROUND.dark]);
  });
});

describe('the saved theme', () => {
  it('is read back at the next launch', async () => {
    const file = path.join(tmp, 'kept', 'window-theme.json');
    for (const theme of ['light', 'dark', 'system'] as Theme[]) {
      await writeWindowTheme(file, theme);
      expect(await readWindowTheme(file)).toBe(theme);
    }
  });

  it('missing, corrupt or unknown means the system’s', async () => {
    expect(await readWindowTheme(path.join(tmp, 'none.json'))).toBe('system');
    const file = path.join(tmp, 'bad.json');
    for (const text of ['{"theme":', '{"theme":"blue"}', 'null', '[]']) {
      writeFileSync(file, text);
      expect(await readWindowTheme(file), text).toBe('system');
    }
  });
});

describe('app.setTheme', () => {
  const told: Theme[] = [];
  const backend = createTestBackend();
  afterAll(() => backend.cleanup());
  const handlers = createCoreHandlers({ engine: backend.engine, history: backend.backend.history, attachments: backend.attachments, app: { name: 'x', version: '0' }, windowTheme: { set: async (t) => void told.push(t) } });
  const withWindow = createDispatcher(coreContract, handlers);
  const ctx = { transport: 'electron' as const };

  it('hands a valid theme to the window', async () => {
    expect(await withWindow.call('app.setTheme', { theme: 'light' }, ctx)).toEqual({ ok: true, value: { applied: true } });
    expect(told).toEqual(['light']);
  });

  it('refuses anything but a theme with a clear error, and the window is not told', async () => {
    for (const input of [{ theme: 'blue' }, {}, { theme: 'dark', extra: 1 }, 'dark']) {
      const r = await withWindow.call('app.setTheme', input, ctx);
      expect(r, JSON.stringify(input)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    }
    const r = await withWindow.call('app.setTheme', { theme: 'blue' }, ctx);
    expect(r.ok ? '' : r.error.message).toMatch(/theme.*"system"\|"light"\|"dark"/);
    expect(told).toEqual(['light']);
  });

  it('headless (no window) it answers, saying nothing was applied', async () => {
    expect(await backend.dispatcher.call('app.setTheme', { theme: 'dark' }, { transport: 'http' })).toEqual({ ok: true, value: { applied: false } });
  });
});
