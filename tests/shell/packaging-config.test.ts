// electron-builder.yml as data: fuses, targets, asar and what stays out. The slow check that
// actually packs with these settings is packaging.test.ts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };
const config = yaml.load(readFileSync('electron-builder.yml', 'utf8')) as Record<string, any>;
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string> };

describe('electron-builder.yml', () => {
  it('flips the fuses: no run-as-node, NODE_OPTIONS or --inspect; asar-only with integrity; encrypted cookies', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it('builds dmg (arm64, x64), nsis (x64) and AppImage (x64) with versioned artifact names', () => {
    expect(config.mac.target).toEqual([{ target: 'dmg', arch: ['arm64', 'x64'] }]);
    expect(config.win.target).toEqual([{ target: 'nsis', arch: ['x64'] }]);
    expect(config.linux.target).toEqual([{ target: 'AppImage', arch: ['x64'] }]);
    expect(config.artifactName).toBe('${productName}-${version}-${os}-${arch}.${ext}');
    expect(config.appId).toBe('ai.firellava.desktop');
    expect(config.publish).toBeNull();
  });

  it('packs into asar and unpacks every native module', () => {
    expect(config.asar).toBe(true);
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['node_modules/@fugood/**', 'node_modules/better-sqlite3/**', 'node_modules/sharp/**', 'node_modules/@img/**']));
  });

  it('ships no CUDA build, and each platform only its own engine variants', () => {
    expect(config.linux.files).toEqual(expect.arrayContaining(['!node_modules/@fugood/node-llama-linux-*-cuda/**', '!node_modules/@fugood/node-llama-{darwin,win32}-*/**']));
    expect(config.win.files).toEqual(expect.arrayContaining(['!node_modules/@fugood/node-llama-win32-*-cuda/**', '!node_modules/@fugood/node-llama-{linux,darwin}-*/**']));
    expect(config.mac.files).toEqual(expect.arrayContaining(['!node_modules/@fugood/node-llama-{linux,win32}-*/**']));
    // An exclude-only list makes electron-builder add "**/*" and pack the whole project folder.
    for (const os of ['mac', 'win', 'linux']) expect(config[os].files.some((p: string) => !p.startsWith('!')), os).toBe(true);
  });

  it('has npm scripts for each installer and the packaging check', () => {
    expect(pkg.scripts['dist:mac']).toMatch(/electron-builder --mac/);
    expect(pkg.scripts['dist:win']).toMatch(/electron-builder --win/);
    expect(pkg.scripts['dist:linux']).toMatch(/electron-builder --linux/);
  });
});
