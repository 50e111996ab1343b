// About: app and runtime versions, and where the licenses are (resources/licenses, shipped next to
// app.asar as <resources>/licenses). The model's Llama 2 license notice is part of it.
import path from 'node:path';

export const LICENSE_FILES = {
  model: 'FIRELLAVA-LLAMA2-NOTICE.txt',
  thirdParty: 'THIRD-PARTY-NOTICES.txt',
} as const;

export interface AboutInput {
  appName: string;
  appVersion: string;
  /** process.versions from the main process. */
  versions: Partial<Record<'electron' | 'chrome' | 'node' | 'v8', string>>;
  /** Version of @fugood/llama.node (bundles llama.cpp). */
  engineVersion: string | null;
}

export function aboutDetail({ appVersion, versions, engineVersion }: AboutInput): string {
  const line = (label: string, value: string | null | undefined) => (value ? `${label} ${value}` : null);
  return [
    `Version ${appVersion}`,
    '',
    line('Electron', versions.electron),
    line('Chromium', versions.chrome),
    line('Node.js', versions.node),
    line('V8', versions.v8),
    line('llama.node (llama.cpp)', engineVersion),
    '',
    'Runs FireLLaVA-13B locally. The model is licensed under the Llama 2 Community License:',
    '"Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. All Rights Reserved."',
    'Choose "Licenses" to read the notices.',
  ]
    .filter((l): l is string => l !== null)
    .join('\n');
}

/** Options for app.setAboutPanelOptions (macOS/Linux native About panel). */
export function aboutPanelOptions(input: AboutInput): { applicationName: string; applicationVersion: string; version: string; credits: string; copyright: string } {
  return {
    applicationName: input.appName,
    applicationVersion: input.appVersion,
    version: input.versions.electron ? `Electron ${input.versions.electron}` : '',
    credits: aboutDetail(input),
    copyright: 'Apache-2.0. FireLLaVA-13B: Llama 2 Community License.',
  };
}

/** Packaged: <resources>/licenses; development: the repository's resources/licenses. */
export function licensesDir(isPackaged: boolean, resourcesPath: string, appPath: string): string {
  return isPackaged ? path.join(resourcesPath, 'licenses') : path.join(appPath, 'resources', 'licenses');
}
