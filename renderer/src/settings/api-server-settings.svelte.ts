// State of the local API server settings: the status from the backend, the key only while the user
// asked to see it, and the last error of a call. Every change goes through the typed contract.
import type { ContractClient } from '../../../electron/shared/client';
import type { ApiServerSettingsPatch, ApiServerStatus } from '../../../electron/shared/contracts/api-server';
import { CallState } from '../lib/call-state.svelte';

/** The base URL clients should use: the running one, else what the settings will give. */
export function expectedBaseUrl(status: ApiServerStatus): string {
  if (status.baseUrl) return status.baseUrl;
  const { host, port } = status.settings;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port === 0 ? 'PORT' : port}/v1`;
}

/** The official openai package, FireLLaVA's name and an image as a data: URL. */
export function pythonExample(baseUrl: string, key: string | null): string {
  return [
    'import base64; from openai import OpenAI',
    `client = OpenAI(base_url="${baseUrl}", api_key="${key ?? 'YOUR_KEY'}")`,
    'image = "data:image/png;base64," + base64.b64encode(open("photo.png", "rb").read()).decode()',
    'r = client.chat.completions.create(model="firellava-13b", messages=[{"role": "user", "content": [{"type": "text", "text": "Describe this image."}, {"type": "image_url", "image_url": {"url": image}}]}])',
    'print(r.choices[0].message.content)',
  ].join('\n');
}

export class ApiServerSettingsState extends CallState {
  status = $state<ApiServerStatus | null>(null);
  /** The whole key, only after Reveal; cleared by Hide. */
  revealed = $state<string | null>(null);
  /** Short confirmation after a copy ("Key copied"). */
  copied = $state<string | null>(null);

  constructor(private readonly client: ContractClient) {
    super();
  }

  async refresh(): Promise<void> {
    this.status = (await this.run(() => this.client.call('apiServer.status', {}))) ?? this.status;
  }

  /** true when saved (the server may still have failed to start: see status.error). */
  async configure(patch: ApiServerSettingsPatch): Promise<boolean> {
    const next = await this.run(() => this.client.call('apiServer.configure', patch));
    if (next) this.status = next;
    return next !== null;
  }

  async reveal(): Promise<void> {
    const r = await this.run(() => this.client.call('apiServer.revealKey', {}));
    if (r) this.revealed = r.key;
  }

  hide(): void {
    this.revealed = null;
  }

  async rotate(): Promise<boolean> {
    const next = await this.run(() => this.client.call('apiServer.rotateKey', {}));
    if (!next) return false;
    this.status = next;
    // A shown key would now be the dead one.
    if (this.revealed !== null) await this.reveal();
    return true;
  }

  async copy(text: string, what: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      const note = `${what} copied`;
      this.copied = note;
      // A confirmation, not a state: it goes after a moment (unless a newer one replaced it).
      setTimeout(() => {
        if (this.copied === note) this.copied = null;
      }, 4000);
    } catch {
      this.error = 'The clipboard is not available here; select the text and copy it by hand.';
    }
  }

  /** Copies the key without showing it. */
  async copyKey(): Promise<void> {
    const r = await this.run(() => this.client.call('apiServer.revealKey', {}));
    if (r) await this.copy(r.key, 'Key');
  }
}
