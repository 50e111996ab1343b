// When a completion loads or saves its conversation's state (kv-cache.ts). The binding's slot
// manager does not reuse a slot's KV for the next request (measured: a follow-up in an idle slot
// had cache_n 0, text and image alike), so every keyed turn saves its state and the next turn of
// that conversation loads it: switching back and restarting both cost only the new tokens.
import { rm } from 'node:fs/promises';
import { checkState, commitState, deleteConversationState, enforceCap, pendingStatePath } from './kv-cache';
import type { CompleteParams } from './worker-protocol';

export interface DiskPlan {
  loadPath: string | null;
  savePath: string | null;
  bytesRead: number;
}

export class SlotBook {
  /** Checksums and renames still running per key: the answer is sent first, the next turn waits for them. */
  private readonly commits = new Map<string, Promise<void>>();

  constructor(
    private readonly cacheDir: string | null,
    private readonly settings: string,
    private capBytes: number,
  ) {}

  async diskPlan(id: number, p: CompleteParams): Promise<DiskPlan> {
    if (!this.cacheDir) return { loadPath: null, savePath: null, bytesRead: 0 };
    if (p.loadKey) await this.commits.get(p.loadKey);
    const check = p.loadKey ? await checkState(this.cacheDir, p.loadKey, this.settings, p.prompt, p.mediaPaths) : null;
    return {
      loadPath: check?.ok ? check.statePath : null,
      savePath: p.saveKey ? await pendingStatePath(this.cacheDir, p.saveKey, id) : null,
      bytesRead: check?.ok ? check.bytes : 0,
    };
  }

  /** Puts the saved state in place without holding up the answer. */
  afterAnswer(p: CompleteParams, savePath: string | null): void {
    const { cacheDir, saveKey } = { cacheDir: this.cacheDir, saveKey: p.saveKey };
    if (!cacheDir || !saveKey || !savePath) return;
    const before = this.commits.get(saveKey) ?? Promise.resolve();
    const done = before
      .then(async () => {
        if (await commitState(cacheDir, saveKey, savePath, this.settings, p.prompt, p.mediaPaths)) await enforceCap(cacheDir, this.capBytes);
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.commits.get(saveKey) === done) this.commits.delete(saveKey);
      });
    this.commits.set(saveKey, done);
  }

  /** Every pending commit finished (tests, size reports). */
  async settled(): Promise<void> {
    await Promise.all(this.commits.values());
  }

  /** Later saves keep to the new cap; states over it go now (after the saves in flight). */
  async setCap(capBytes: number): Promise<void> {
    this.capBytes = capBytes;
    await this.settled();
    if (this.cacheDir) await enforceCap(this.cacheDir, capBytes);
  }

  async dropState(key: string | null): Promise<void> {
    if (this.cacheDir && key) await deleteConversationState(this.cacheDir, key);
  }

  async discard(savePath: string | null): Promise<void> {
    if (savePath) await Promise.all([rm(savePath, { force: true }), rm(`${savePath}.meta`, { force: true })]);
  }
}
