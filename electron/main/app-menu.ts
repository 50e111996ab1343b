// Native menus as plain data. The Edit menu's roles are what make Cmd/Ctrl+C, X, V and A work in
// an Electron window at all (on macOS there are no shortcuts without them).
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  showAbout(): void;
  showLicenses(): void;
  revealDataFolder(): void;
}

export interface MenuOptions {
  platform: NodeJS.Platform;
  appName: string;
  /** Reload and DevTools only while developing. */
  isPackaged: boolean;
  actions: MenuActions;
}

export function buildMenuTemplate({ platform, appName, isPackaged, actions }: MenuOptions): MenuItemConstructorOptions[] {
  const mac = platform === 'darwin';
  const about: MenuItemConstructorOptions = { id: 'about', label: `About ${appName}`, click: () => actions.showAbout() };
  const reveal: MenuItemConstructorOptions = {
    id: 'reveal-data',
    label: mac ? 'Show Data Folder in Finder' : platform === 'win32' ? 'Show Data Folder in Explorer' : 'Open Data Folder',
    click: () => actions.revealDataFolder(),
  };
  const licenses: MenuItemConstructorOptions = { id: 'licenses', label: 'Licenses', click: () => actions.showLicenses() };

  const template: MenuItemConstructorOptions[] = [];
  if (mac) {
    template.push({
      label: appName,
      submenu: [about, { type: 'separator' }, reveal, { type: 'separator' }, { role: 'services' }, { type: 'separator' }, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, { type: 'separator' }, { role: 'quit' }],
    });
  }
  template.push({ label: 'File', submenu: mac ? [{ role: 'close' }] : [reveal, { type: 'separator' }, { role: 'quit' }] });
  template.push({
    label: 'Edit',
    submenu: [
      { role: 'undo' },
      { role: 'redo' },
      { type: 'separator' },
      { role: 'cut' },
      { role: 'copy' },
      { role: 'paste' },
      ...(mac ? [{ role: 'pasteAndMatchStyle' } as const] : []),
      { role: 'delete' },
      { type: 'separator' },
      { role: 'selectAll' },
    ],
  });
  template.push({
    label: 'View',
    submenu: [
      ...(isPackaged ? [] : [{ role: 'reload' } as const, { role: 'toggleDevTools' } as const, { type: 'separator' } as const]),
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  });
  template.push({ role: 'windowMenu' });
  template.push({ role: 'help', submenu: mac ? [licenses] : [about, licenses] });
  return template;
}
