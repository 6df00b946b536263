import { AppError } from '../errors.ts';

/** Seconds a user over their upload limit is told to wait before resuming (Retry-After). */
export const SLOT_RETRY_AFTER_SECONDS = 5;

/**
 * At most `max` upload requests (tus PATCH/POST, which stream a body and hold a lock connection
 * each) per user at once on this node. Without it one account trickling bytes into many uploads
 * holds every lock connection, and everyone else's uploads wait (issue 9). Counted per node, in
 * memory: behind a load balancer a user may hold `max` on each node, which the lock pool of each
 * node bounds anyway.
 *
 * Invariant: every `take()` that returned a release function is released exactly once.
 */
export class UploadSlots {
  private readonly max: number;
  private readonly inUse = new Map<string, number>();

  constructor(max: number) {
    this.max = max;
  }

  /** A release function, or TOO_MANY_UPLOADS when the user already runs `max` upload requests. */
  take(userId: string): () => void {
    const n = this.inUse.get(userId) ?? 0;
    if (n >= this.max) {
      throw new AppError(
        'TOO_MANY_UPLOADS',
        `You have ${n} upload requests running at once, the most this server allows. Let one finish, then resume this upload (Retry-After: ${SLOT_RETRY_AFTER_SECONDS} s).`,
        { retryAfterSeconds: SLOT_RETRY_AFTER_SECONDS },
      );
    }
    this.inUse.set(userId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inUse.get(userId) ?? 1) - 1;
      if (left > 0) this.inUse.set(userId, left);
      else this.inUse.delete(userId);
    };
  }

  /** Upload requests of `userId` in flight on this node. */
  count(userId: string): number {
    return this.inUse.get(userId) ?? 0;
  }
}
