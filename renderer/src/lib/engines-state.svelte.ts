// The engines: the local engine's status (watched, reconnecting when the stream ends) and the list of
// engines an answer can come from. Remote engine settings reload it after a change, so the chat follows.
import type { ContractClient, StreamHandle } from '../../../electron/shared/client';
import type { EngineEntry, EngineList } from '../../../electron/shared/contracts/engines';
import type { EngineStatus } from '../../../electron/shared/types';
import { CallState } from './call-state.svelte';

export class EnginesState extends CallState {
  status = $state<EngineStatus | null>(null);
  connectionError = $state<string | null>(null);
  list = $state<EngineList | null>(null);

  readonly ready = $derived(this.status?.state === 'ready');

  #watch: StreamHandle | null = null;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly client: ContractClient) {
    super();
  }

  /** Watches the status and loads the list; the returned function stops watching. */
  start(): () => void {
    this.#stopped = false;
    const connect = (): void => {
      const handle = this.client.stream('engine.watch', {}, (status) => {
        this.status = status;
        this.connectionError = null;
      });
      this.#watch = handle;
      void handle.done.then((result) => {
        if (this.#stopped || this.#watch !== handle) return;
        this.connectionError = result.ok ? 'The backend closed the status stream' : result.error.message;
        this.#retry = setTimeout(connect, 2000);
      });
    };
    connect();
    void this.load();
    return () => {
      this.#stopped = true;
      clearTimeout(this.#retry);
      this.#watch?.cancel();
    };
  }

  /** false (with `error` set) when the list could not be read; the previous list stays. */
  async load(): Promise<boolean> {
    const list = this.unwrap(await this.client.call('engines.list', {}));
    if (list) this.list = list;
    return list !== null;
  }

  /** The engine an answer comes from: the chosen one, else the default (also when the chosen one was removed). */
  resolve(chosen: string | null): EngineEntry | null {
    const list = this.list;
    if (!list) return null;
    return list.engines.find((e) => e.id === chosen) ?? list.engines.find((e) => e.id === list.defaultEngineId) ?? null;
  }
}
