// Batches streamed text so a fast model does not flood the process and transport boundaries.
// The first piece goes out at once (time to first token matters); later ones at most every `intervalMs`.
export class TokenCoalescer {
  private buffer = '';
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sentFirst = false;

  constructor(
    private readonly emit: (text: string) => void,
    private readonly intervalMs: number,
  ) {}

  push(text: string): void {
    if (!text) return;
    this.buffer += text;
    if (!this.sentFirst) {
      this.sentFirst = true;
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.buffer) return;
    const text = this.buffer;
    this.buffer = '';
    this.emit(text);
  }
}
