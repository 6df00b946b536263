import { AppError } from '../errors.ts';

/**
 * A semaphore with a bounded queue, for CPU-heavy work that runs on libuv's shared thread pool
 * (scrypt). The pool has 4 threads by default and also serves file I/O, DNS and zlib: unbounded,
 * a flood of sign-ins queues hundreds of hashes there and every file read waits behind them.
 *
 * Invariants: at most `concurrency` tasks run at once. A refusable task that finds `maxQueued`
 * waiting is refused at once with 503 SERVER_BUSY (and Retry-After); one that may not be refused
 * waits regardless (still never more than `concurrency` running).
 */
export class HashGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  readonly concurrency: number;
  readonly maxQueued: number;

  constructor(concurrency: number, maxQueued: number) {
    this.concurrency = concurrency;
    this.maxQueued = maxQueued;
  }

  async run<T>(task: () => Promise<T>, opts: { refusable?: boolean } = {}): Promise<T> {
    if (this.running >= this.concurrency) {
      if ((opts.refusable ?? true) && this.waiting.length >= this.maxQueued) {
        throw new AppError('SERVER_BUSY', undefined, { retryAfterSeconds: 2 });
      }
      // The slot is handed over by release(): `running` is not decremented in between.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  /** Tasks running and waiting now (for tests and logs). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
