// Test side of the stand-in: forks boot.cjs on a built main.cjs and talks to it. Each boot is its
// own process, as each app launch is, so quitting really ends it and a second launch is real.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

const BOOT = fileURLToPath(new URL('boot.cjs', import.meta.url));

/** What the stand-in recorded (state.cjs), as a test function sees it inside the boot process. */
export interface StandInState {
  config: BootOptions & { reportFile: string };
  ready: boolean;
  /** The stand-in's app object, as main sees it. */
  app: { quit(): void };
  sandboxEnabled: boolean;
  privileged: { scheme: string; privileges: Record<string, boolean> }[];
  protocolHandlers: Map<string, unknown>;
  ipcHandlers: Map<string, unknown>;
  ipcLog: { kind: 'invoke' | 'send'; channel: string; name: string; frameUrl: string }[];
  exposed: string[];
  windows: StandInWindow[];
  windowOptions: { width: number; height: number; x?: number; y?: number; show?: boolean; webPreferences: Record<string, unknown> }[];
  permissionHandlers: Record<'request' | 'check' | 'device', unknown>;
  downloadListeners: number;
  permissions: { permission: string; requestingUrl: string; granted: boolean }[];
  navigations: { url: string; allowed: boolean }[];
  windowOpens: { url: string; action: string }[];
  blockedRequests: string[];
  unhandledLoads: string[];
  openedExternally: string[];
  dialogs: { kind: string; title?: string; content?: string }[];
  menu: { label?: string; role?: string; submenu?: { role?: string; label?: string }[] }[] | null;
  appEvents: string[];
  utility: { entry: string; pid: number; serviceName: string; killedByApp: boolean; exit: { code: number | null; signal: string | null } | null }[];
  focusCalls: number;
}

export interface StandInWindow {
  pageNow: Page;
  isMinimized(): boolean;
  isVisible(): boolean;
  isMaximized(): boolean;
  getNormalBounds(): { x: number; y: number; width: number; height: number };
  userResize(bounds: Partial<{ x: number; y: number; width: number; height: number }>): Promise<void>;
  userMinimize(): void;
  close(): void;
}

export interface BootOptions {
  /** The built main.cjs (dist/main/main.cjs, or the one extracted from app.asar). */
  main: string;
  /** Folder of the package.json Electron would run (app.getAppPath()). */
  appPath: string;
  userData: string;
  /** Temp folder for Chromium's profile and home. */
  tmp: string;
  chromium: string;
  isPackaged?: boolean;
  resourcesPath?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface ExitReport {
  code: number;
  utility: (StandInState['utility'][number] & { aliveAtExit: boolean })[];
  appEvents: string[];
}

export interface BootedApp {
  child: ChildProcess;
  /** Runs fn inside the boot process; fn must use only its parameters (it travels as source). */
  run<A, R>(fn: (state: StandInState, arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** What the stand-in wrote as the process left (null if it died otherwise). */
  report(): ExitReport | null;
  output(): string;
}

export function bootApp(options: BootOptions): BootedApp {
  const reportFile = `${options.userData}.exit-${Date.now()}-${Math.random().toString(36).slice(2)}.json`;
  const { env, ...config } = options;
  const child = fork(BOOT, [], {
    env: { ...process.env, ...env, STAND_IN_ELECTRON: JSON.stringify({ ...config, resourcesPath: options.resourcesPath ?? path.join(options.appPath, 'resources'), reportFile }) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p?.resolve(m.value);
    else p?.reject(new Error(m.error));
  });
  void exited.then(({ code, signal }) => {
    for (const p of pending.values()) p.reject(new Error(`app exited (${code ?? signal}) during a test step. Output:\n${output}`));
    pending.clear();
  });
  return {
    child,
    exited,
    output: () => output,
    report: () => (existsSync(reportFile) ? (JSON.parse(readFileSync(reportFile, 'utf8')) as ExitReport) : null),
    run: (fn, arg) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, fn: fn.toString(), arg });
      }),
  };
}

/** Waits inside the boot process until main showed its window (ready-to-show after loadURL). */
export const windowShown = (app: BootedApp): Promise<void> =>
  app.run(async (s) => {
    for (let i = 0; i < 600 && !s.windows[0]?.isVisible(); i++) await new Promise((r) => setTimeout(r, 100));
    if (!s.windows[0]?.isVisible()) throw new Error(`no window shown; dialogs: ${JSON.stringify(s.dialogs)}`);
  });
