import type { AppContext } from '../context.ts';
import { backoffMs } from '../db/unavailable.ts';
import { recoverStalledVideos } from './recovery.ts';

/**
 * The lease check of every worker node: how fast a killed worker's video is resumed elsewhere.
 *
 * A runner's lease is its run lock (run-lock.ts), which PostgreSQL drops the moment the runner's
 * process dies, plus its heartbeat (every PROCESSING_STALE_SECONDS / 6). This loop looks every
 * PROCESSING_STALE_SECONDS / 3 (at most 10 s) for `processing` videos whose lease lapsed (no
 * heartbeat for PROCESSING_STALE_SECONDS and the lock free), so a video is resumed within about
 * 1.5 × PROCESSING_STALE_SECONDS plus the job poll (2 s) — 25 s with the default of 15 s — instead
 * of waiting for the once-a-minute cron sweep (kept as a fallback).
 *
 * A failed round (the database is down) is logged and tried again with backoff; the loop never
 * ends by itself.
 */
export interface RecoveryLoop {
  stop(): Promise<void>;
}

export function startRecoveryLoop(ctx: AppContext): RecoveryLoop {
  const intervalMs = Math.max(1000, Math.min(10_000, (ctx.config.worker.staleSeconds * 1000) / 3));
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;
  let round: Promise<void> = Promise.resolve();
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      round = recoverStalledVideos(ctx).then(
        () => {
          failures = 0;
          schedule(intervalMs);
        },
        (err: unknown) => {
          if (failures++ === 0) ctx.log.warn({ err }, 'recovery round failed; trying again');
          schedule(Math.max(intervalMs, backoffMs(failures, 1000, 30_000)));
        },
      );
    }, ms);
    timer.unref();
  };
  schedule(intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}
