// The desktop app's local API server: settings saved in the data folder, the key in the keychain
// (in memory when there is none), and the listener started, moved or stopped to match. Failures to
// listen become a status the settings view shows; nothing here throws at the app.
import path from 'node:path';
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import type { SecretStore } from '../secrets/secret-store';
import { generateApiKey } from '../server/auth';
import { DEFAULT_API_SERVER_SETTINGS, type ApiServerSettings, type ApiServerSettingsPatch, type ApiServerStatus } from '../shared/contracts/api-server';
import { AppErrorException, toAppError } from '../shared/errors';
import { isLoopbackHost, startApiServer, type RunningApiServer } from './api-server';
import { API_SERVER_SETTINGS_FILE, readApiServerSettings, writeApiServerSettings } from './api-server-settings';
import type { OpenAiApiOptions } from './openai-api';

export const API_KEY_SECRET = 'api.key';

/** "fl-" tells a FireLLaVA key apart from an OpenAI or Fireworks one in a user's config. */
export const generateLocalApiKey = (): string => `fl-${generateApiKey()}`;

export const maskKey = (key: string): string => `${key.slice(0, 3)}…${key.slice(-4)}`;

export interface ApiServerControllerOptions {
  engine: Engine;
  attachments: AttachmentStore;
  /** Where api-server.json is kept; without it the settings last as long as the process. */
  dataDir?: string;
  /** The keychain for the key; without it the key lives in memory until the process ends. */
  secrets?: SecretStore;
}

export function describeListenError(err: unknown, host: string, port: number): string {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `Port ${port} on ${host} is already in use by another program, so the API server is not running. Choose another port; your settings are saved.`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this computer, so the API server is not running. Use 127.0.0.1 (this computer only), 0.0.0.0 (every network) or one of this computer's addresses.`;
    case 'EACCES':
      return `This system does not allow listening on ${where}, so the API server is not running. Choose a port from 1024 to 65535.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host name "${host}" could not be resolved, so the API server is not running. Use an IP address such as 127.0.0.1.`;
    default:
      return `The API server could not start on ${where}: ${(err as Error).message ?? String(err)}`;
  }
}

export class ApiServerController {
  /** Resolves once the saved settings and key are read and the listener (if enabled) is up or has failed. */
  readonly ready: Promise<void>;
  private settings: ApiServerSettings = { ...DEFAULT_API_SERVER_SETTINGS, corsOrigins: [] };
  private key = generateLocalApiKey();
  private keyStorage: 'keychain' | 'memory' = 'memory';
  private settingsNotice: string | null = null;
  private keyNotice: string | null = null;
  private running: RunningApiServer | null = null;
  /** The host and configured port the running listener was started with. */
  private runningFor: { host: string; port: number } | null = null;
  private error: string | null = null;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly file: string | null;

  constructor(private readonly options: ApiServerControllerOptions) {
    this.file = options.dataDir ? path.join(options.dataDir, API_SERVER_SETTINGS_FILE) : null;
    this.ready = this.serial(() => this.init());
  }

  /** One change at a time: a toggle clicked twice never leaves two listeners. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async init(): Promise<void> {
    if (this.file) {
      const loaded = await readApiServerSettings(this.file);
      this.settings = loaded.settings;
      this.settingsNotice = loaded.problem;
    }
    await this.loadKey();
    await this.applyListener();
  }

  private async loadKey(): Promise<void> {
    const { secrets } = this.options;
    if (!secrets) return; // headless: the key made at construction lasts for this process
    let saved: string | null;
    try {
      saved = await secrets.get(API_KEY_SECRET);
    } catch (err) {
      // Not overwritten: a locked keychain may give the saved key back at the next start.
      this.keyNotice = `The saved API key could not be read (${toAppError(err).message}); a temporary key is used until the app quits, or until you rotate it.`;
      return;
    }
    if (saved) {
      this.key = saved;
      this.keyStorage = 'keychain';
      return;
    }
    try {
      await secrets.set(API_KEY_SECRET, this.key);
      this.keyStorage = 'keychain';
    } catch (err) {
      this.keyNotice = `The API key could not be saved in the system keychain (${toAppError(err).message}); it is kept in memory until the app quits.`;
    }
  }

  private apiOptions(): OpenAiApiOptions {
    return {
      engine: this.options.engine,
      attachments: this.options.attachments,
      apiKey: () => this.key,
      corsOrigins: this.settings.corsOrigins,
      fetchImages: this.settings.fetchImages,
    };
  }

  private async stopListener(): Promise<void> {
    const running = this.running;
    this.running = null;
    this.runningFor = null;
    await running?.close();
  }

  /** Matches the listener to the settings; restarts it only when the address changes. */
  private async applyListener(): Promise<void> {
    const { enabled, host, port } = this.settings;
    if (!enabled || this.closed) {
      this.error = null;
      return this.stopListener();
    }
    const current = this.running;
    if (current && this.runningFor?.host === host && (port === 0 ? this.runningFor.port === 0 : current.port === port)) {
      current.reconfigure(this.apiOptions());
      this.error = null;
      return;
    }
    await this.stopListener();
    try {
      this.running = await startApiServer(host, port, this.apiOptions());
      this.runningFor = { host, port };
      this.error = null;
    } catch (err) {
      this.error = describeListenError(err, host, port);
    }
  }

  status(): ApiServerStatus {
    const { host } = this.settings;
    return {
      settings: { ...this.settings, corsOrigins: [...this.settings.corsOrigins] },
      running: this.running !== null,
      baseUrl: this.running?.baseUrl ?? null,
      keyHint: maskKey(this.key),
      keyStorage: this.keyStorage,
      error: this.error,
      warning: isLoopbackHost(host)
        ? null
        : `The API server listens on ${host}: other computers that can reach this one can use the model with the key. Use 127.0.0.1 to keep it to this computer.`,
      notices: [this.settingsNotice, this.keyNotice].filter((n): n is string => n !== null),
      servedApiPath: null,
    };
  }

  async current(): Promise<ApiServerStatus> {
    await this.ready;
    return this.status();
  }

  /** Saves first: a port that is in use still keeps what the user chose. */
  configure(patch: ApiServerSettingsPatch): Promise<ApiServerStatus> {
    return this.serial(async () => {
      if (this.closed) throw new AppErrorException({ code: 'INTERNAL', message: 'The app is shutting down' });
      const next: ApiServerSettings = { ...this.settings, ...patch };
      if (this.file) {
        try {
          await writeApiServerSettings(this.file, next);
        } catch (err) {
          throw new AppErrorException({ code: 'INTERNAL', message: `The API server settings could not be saved (${(err as Error).message}); nothing was changed.` });
        }
        this.settingsNotice = null;
      }
      this.settings = next;
      await this.applyListener();
      return this.status();
    });
  }

  /** The next request must carry the new key; the listener stays up. */
  rotateKey(): Promise<ApiServerStatus> {
    return this.serial(async () => {
      const fresh = generateLocalApiKey();
      const { secrets } = this.options;
      if (secrets) {
        try {
          await secrets.set(API_KEY_SECRET, fresh);
          this.keyStorage = 'keychain';
          this.keyNotice = null;
        } catch (err) {
          // A saved key must never silently stop matching what the keychain holds.
          if (this.keyStorage === 'keychain') {
            throw new AppErrorException({ code: 'INTERNAL', message: `The new key could not be saved in the keychain (${toAppError(err).message}); the current key still works.` });
          }
        }
      }
      this.key = fresh;
      return this.status();
    });
  }

  async revealKey(): Promise<string> {
    await this.ready;
    return this.key;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.serial(() => this.stopListener());
  }
}
