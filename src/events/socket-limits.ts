/**
 * What one live socket may ask of the server. A client message costs database queries (a
 * subscribe: an ownership check and a snapshot), so a socket that floods must neither queue
 * unbounded work nor slow other users' requests down (issue 9: 20,000 subscribes made another
 * user's /api/me take 22 s).
 */

/** WebSocket close codes (4000–4999 are the application's; see the README, "Live status"). */
export const CLOSE_TOO_MANY_MESSAGES = { code: 4008, reason: 'policy: too many messages' } as const;
export const CLOSE_TOO_MANY_SOCKETS = {
  code: 4029,
  reason: 'policy: too many live connections for this account',
} as const;
/** Largest client message accepted; a larger one closes the socket with 1009 (ws' own check). */
export const MAX_MESSAGE_BYTES = 16 * 1024;

/**
 * A token bucket: `burst` messages at once, refilled at `perSecond`. Invariant: 0 ≤ tokens ≤ burst.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly burst: number;
  private readonly perSecond: number;
  private readonly now: () => number;

  constructor(burst: number, perSecond: number, now: () => number = Date.now) {
    this.burst = burst;
    this.perSecond = perSecond;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when none is left (the caller refuses the message). */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Runs one task at a time. While one runs, a new submission replaces the one waiting: only the
 * latest runs next, the ones in between are dropped (a newer subscribe makes an older one moot).
 */
export class LatestOnly<T> {
  private running = false;
  private waiting: { value: T } | undefined;
  private readonly run: (value: T) => Promise<void>;

  constructor(run: (value: T) => Promise<void>) {
    this.run = run;
  }

  submit(value: T): void {
    if (this.running) {
      this.waiting = { value };
      return;
    }
    void this.loop(value);
  }

  private async loop(first: T): Promise<void> {
    this.running = true;
    try {
      for (let next: { value: T } | undefined = { value: first }; next; next = this.waiting) {
        this.waiting = undefined;
        await this.run(next.value).catch(() => {});
      }
    } finally {
      this.running = false;
    }
  }
}
