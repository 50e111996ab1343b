// Options for the main window, as plain data: the security-relevant webPreferences are fixed here
// and asserted by tests/shell/security-policy.test.ts.
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';
import type { WindowBounds } from './window-state';

export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false, // a dropped image goes to the chat, never replaces the app page
    safeDialogs: true,
    spellcheck: true,
    devTools: true,
  };
}

export interface MainWindowOptionsInput {
  preload: string;
  bounds: WindowBounds;
  platform: NodeJS.Platform;
  /** Linux windows take their icon from here; macOS and Windows from the app bundle. */
  icon?: string;
  /** Packaged builds hide DevTools; development keeps them. */
  devTools: boolean;
  /** Painted before the page: the theme's (window-theme.ts), so the frame never flashes the other one. */
  backgroundColor: string;
}

export const MIN_WINDOW_SIZE = { width: 640, height: 480 } as const;

export function createMainWindowOptions(input: MainWindowOptionsInput): BrowserWindowConstructorOptions {
  const { bounds } = input;
  return {
    title: 'FireLLaVA',
    ...(bounds.x !== undefined && bounds.y !== undefined ? { x: bounds.x, y: bounds.y } : {}),
    width: bounds.width,
    height: bounds.height,
    minWidth: MIN_WINDOW_SIZE.width,
    minHeight: MIN_WINDOW_SIZE.height,
    show: false, // shown on 'ready-to-show', so users never see a blank white frame
    backgroundColor: input.backgroundColor,
    autoHideMenuBar: false,
    ...(input.platform === 'linux' && input.icon ? { icon: input.icon } : {}),
    webPreferences: { ...secureWebPreferences(input.preload), devTools: input.devTools },
  };
}
