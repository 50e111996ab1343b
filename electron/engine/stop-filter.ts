// Stop sequences, applied to the text: the binding's parallel mode stops at a stop word but leaves
// it (and the rest of its token) in the text. Text that may still turn into a stop word is held
// back until it cannot, so a stream never shows what the final answer drops.
export class StopFilter {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  /** The part of `text` (after what was held) that is safe to show now. */
  push(text: string): string {
    if (this.done) return '';
    if (this.stops.length === 0) return text;
    const all = this.held + text;
    const at = this.firstStop(all);
    if (at >= 0) {
      this.done = true;
      this.held = '';
      return all.slice(0, at);
    }
    const keep = this.partialTail(all);
    this.held = all.slice(all.length - keep);
    return all.slice(0, all.length - keep);
  }

  /** What is left at the end (a partial stop word that never completed is real text). */
  end(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }

  /** The final text cut at the first stop word. */
  static cut(text: string, stops: readonly string[]): string {
    const f = new StopFilter(stops);
    return f.push(text) + f.end();
  }

  private firstStop(s: string): number {
    let best = -1;
    for (const stop of this.stops) {
      const i = stop ? s.indexOf(stop) : -1;
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** Length of the longest tail of s that is a proper prefix of some stop word. */
  private partialTail(s: string): number {
    let keep = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, s.length); n > keep; n--) {
        if (s.endsWith(stop.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  }
}
