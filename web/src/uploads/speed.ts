/**
 * Upload speed per row: sampled at most every 250 ms and smoothed (70 % the previous estimate,
 * 30 % the newest sample), so the figures and times left do not jump with every chunk.
 */
export class SpeedMeter {
  private readonly last = new Map<string, { at: number; bytes: number }>();

  /** The new estimate for `key` after `sent` bytes, given the previous estimate. */
  sample(key: string, sent: number, previous: number): number {
    const now = performance.now();
    const last = this.last.get(key);
    if (!last) {
      this.last.set(key, { at: now, bytes: sent });
      return previous;
    }
    if (now - last.at < 250) return previous;
    const inst = ((sent - last.bytes) * 1000) / (now - last.at);
    this.last.set(key, { at: now, bytes: sent });
    return previous ? previous * 0.7 + inst * 0.3 : inst;
  }

  forget(key: string): void {
    this.last.delete(key);
  }
}
