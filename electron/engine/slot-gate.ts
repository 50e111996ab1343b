// Admission to the worker: up to `capacity` generations share it (one per slot), while a load or
// device probe holds it alone. First come, first served, and a waiting exclusive task blocks later
// shared ones, so a reload is never starved by a stream of answers.
type Waiter = { exclusive: boolean; start: () => void };

export class SlotGate {
  private shared = 0;
  private exclusiveHeld = false;
  private readonly waiters: Waiter[] = [];

  constructor(public capacity = 1) {}

  /** Generations holding a slot now. */
  get inUse(): number {
    return this.shared;
  }

  /** Tasks waiting for a turn. */
  get waiting(): number {
    return this.waiters.length;
  }

  run<T>(exclusive: boolean, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        if (exclusive) this.exclusiveHeld = true;
        else this.shared++;
        task()
          .then(resolve, reject)
          .finally(() => {
            if (exclusive) this.exclusiveHeld = false;
            else this.shared--;
            this.pump();
          });
      };
      this.waiters.push({ exclusive, start });
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiters.length > 0 && !this.exclusiveHeld) {
      const next = this.waiters[0] as Waiter;
      if (next.exclusive ? this.shared > 0 : this.shared >= this.capacity) return;
      this.waiters.shift();
      next.start();
    }
  }
}
