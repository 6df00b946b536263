import { z } from 'zod';

/**
 * Settings of operations: metrics and the cleanup sweep. Part of `src/config.ts`'s one schema
 * (spread into it), kept here so that file stays about storage, limits and processing.
 */
const int = (min: number) => z.coerce.number().int().min(min);

export const opsSchema = {
  /** When set, GET /metrics requires "Authorization: Bearer <token>"; otherwise it is open. */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** Port of the small metrics/health listener of a worker-only node (default: PORT). */
  METRICS_PORT: int(0).max(65535).optional(),
  /** Minutes between scheduled cleanup sweeps; 0 turns the schedule off (on-demand runs still work). */
  CLEANUP_INTERVAL_MINUTES: int(0).default(60),
  /** Stored objects with no video are deleted only once they are older than this. */
  CLEANUP_ORPHAN_GRACE_MINUTES: int(0).default(60),
  /** An `uploaded` video with no processing job is queued again once unchanged this long. */
  CLEANUP_QUEUE_GRACE_MINUTES: int(0).default(10),
};

export interface OpsConfig {
  metricsToken: string | undefined;
  metricsPort: number | undefined;
  cleanup: { intervalMinutes: number; orphanGraceMinutes: number; queueGraceMinutes: number };
}

type Parsed = {
  METRICS_TOKEN?: string | undefined;
  METRICS_PORT?: number | undefined;
  CLEANUP_INTERVAL_MINUTES: number;
  CLEANUP_ORPHAN_GRACE_MINUTES: number;
  CLEANUP_QUEUE_GRACE_MINUTES: number;
};

export function opsConfig(c: Parsed): OpsConfig {
  return {
    metricsToken: c.METRICS_TOKEN,
    metricsPort: c.METRICS_PORT,
    cleanup: {
      intervalMinutes: c.CLEANUP_INTERVAL_MINUTES,
      orphanGraceMinutes: c.CLEANUP_ORPHAN_GRACE_MINUTES,
      queueGraceMinutes: c.CLEANUP_QUEUE_GRACE_MINUTES,
    },
  };
}
