// When the engine worker dies with several items in flight, every one of them sees the crash, but
// at most one caused it. Their retries go through this gate alone (no other item of the job on the
// engine), so a second crash names the photo that caused it and the bystanders are not blamed.

export class SoloGate {
  private inside = 0;
  private alone = false;
  private soloWaiting = 0;
  private wake: (() => void)[] = [];

  /** Waits for a turn; solo waits for the engine to be free of this job's items and keeps it so. Returns the release. */
  async enter(solo: boolean): Promise<() => void> {
    if (solo) this.soloWaiting++;
    try {
      // A solo turn that waits goes before new shared ones, or a busy job would starve it.
      while (this.alone || (solo ? this.inside > 0 : this.soloWaiting > 0)) await new Promise<void>((r) => this.wake.push(r));
    } finally {
      if (solo) this.soloWaiting--;
    }
    this.inside++;
    if (solo) this.alone = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inside--;
      if (solo) this.alone = false;
      const waiting = this.wake;
      this.wake = [];
      for (const w of waiting) w();
    };
  }
}
