// State of the model manager view: catalog, installed pairs, live downloads. The component only
// reads this and calls its methods; every call goes through the typed contract.
import type { ContractClient, StreamHandle } from '../../../electron/shared/client';
import type { CatalogItem, CommandLineModel, DownloadJob, HfTokenStatus, ImportRequest, InstalledModel, PullRequest } from '../../../electron/shared/contracts/models';
import { firstRunChoice } from './model-view';
import { CallState } from '../lib/call-state.svelte';

export class ModelManagerState extends CallState {
  catalog = $state<CatalogItem[]>([]);
  installed = $state<InstalledModel[]>([]);
  jobs = $state<DownloadJob[]>([]);
  /** Catalog entry whose details (size, license) are shown before anything downloads. */
  selected = $state<string | null>(null);
  loaded = $state(false);
  /** Whether a Hugging Face token is known (never the token itself). */
  token = $state<HfTokenStatus | null>(null);
  /** The pair given with --model, when that is what answers (it is not in `installed`). */
  commandLine = $state<CommandLineModel | null>(null);

  readonly activeModel = $derived(this.installed.find((m) => m.active) ?? null);
  readonly hasReadyModel = $derived(this.installed.some((m) => m.status === 'ready'));

  private watch: StreamHandle | null = null;

  constructor(
    private readonly client: ContractClient,
    private readonly nCtx = 4096,
  ) {
    super();
  }

  async refresh(): Promise<void> {
    const [catalog, installed, token, commandLine] = await Promise.all([
      this.client.call('models.catalog', { nCtx: this.nCtx }),
      this.client.call('models.list', { nCtx: this.nCtx }),
      this.client.call('models.tokenStatus', {}),
      this.client.call('models.commandLine', {}),
    ]);
    if (commandLine.ok) this.commandLine = commandLine.value;
    this.catalog = this.unwrap(catalog) ?? this.catalog;
    this.installed = this.unwrap(installed) ?? this.installed;
    this.token = this.unwrap(token) ?? this.token;
    this.loaded = true;
  }

  async refreshInstalled(): Promise<void> {
    const [installed, commandLine] = await Promise.all([this.client.call('models.list', { nCtx: this.nCtx }), this.client.call('models.commandLine', {})]);
    this.installed = this.unwrap(installed) ?? this.installed;
    if (commandLine.ok) this.commandLine = commandLine.value;
  }

  /** Loads everything and follows download progress until stop(). */
  async start(): Promise<void> {
    this.watch ??= this.client.stream('models.watch', {}, (e) => {
      if (e.type === 'snapshot') this.jobs = e.jobs;
      else if (e.type === 'job') this.upsertJob(e.job);
      else void this.refreshInstalled();
    });
    await this.refresh();
    this.selected ??= firstRunChoice(this.catalog, this.installed);
  }

  stop(): void {
    this.watch?.cancel();
    this.watch = null;
  }

  private upsertJob(job: DownloadJob): void {
    const i = this.jobs.findIndex((j) => j.id === job.id);
    if (i >= 0) this.jobs[i] = job;
    else this.jobs.push(job);
  }

  async pull(req: PullRequest): Promise<boolean> {
    const job = await this.run(() => this.client.call('models.pull', req));
    if (job) this.upsertJob(job);
    return job !== null;
  }

  pause(id: string): Promise<unknown> {
    return this.run(() => this.client.call('models.pause', { id }));
  }

  resume(id: string): Promise<unknown> {
    return this.run(() => this.client.call('models.resume', { id }));
  }

  async cancel(id: string): Promise<void> {
    await this.run(() => this.client.call('models.cancel', { id }));
    await this.refreshInstalled();
  }

  async importLocal(req: ImportRequest): Promise<boolean> {
    const m = await this.run(() => this.client.call('models.import', req));
    await this.refreshInstalled();
    return m !== null;
  }

  async remove(id: string): Promise<void> {
    await this.run(() => this.client.call('models.delete', { id }));
    this.jobs = this.jobs.filter((j) => j.id !== id);
    await this.refreshInstalled();
  }

  async setActive(id: string): Promise<void> {
    await this.run(() => this.client.call('models.setActive', { id }));
    await this.refreshInstalled();
  }

  /** Saves (or with null removes) the Hugging Face token; true when it was accepted. */
  async setToken(token: string | null): Promise<boolean> {
    const status = await this.run(() => this.client.call('models.setToken', { token }));
    if (status) this.token = status;
    return status !== null;
  }

  dismissJob(id: string): void {
    this.jobs = this.jobs.filter((j) => j.id !== id);
  }
}
