import { sql } from 'kysely';
import pg from 'pg';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { countCleanupRepairs } from '../metrics/metrics.ts';
import { checkAbandonedMultiparts } from './check-multiparts.ts';
import { checkOrphanedPartials } from './check-partials.ts';
import {
  checkFailedDeletes,
  checkMissingOriginals,
  checkOrphanedObjects,
  listStore,
} from './check-storage.ts';
import { checkExpiredUploads, checkNeverQueued, checkStalledProcessing } from './check-videos.ts';
import { type CheckName, type CheckResult, type CleanupDetail, errorText } from './report.ts';
import { type CleanupRun, getRun } from './runs.ts';

/**
 * The cleanup sweep: finds what went wrong and was never repaired, repairs it (or, in a dry
 * run, only says what it would do), and records the run in `cleanup_runs` with one detail per
 * item. Scheduled (CLEANUP_INTERVAL_MINUTES), on demand (POST /api/admin/cleanup) and from the
 * CLI (`npm run cleanup`).
 *
 * Invariants:
 * - A dry run writes nothing but its own `cleanup_runs` row.
 * - A live upload (started within the expiry) and a running job (its run lock held) are never
 *   touched; every repair is a conditional change through the module that owns it.
 * - One sweep at a time across all nodes (a session advisory lock); a second one is refused
 *   with CLEANUP_RUNNING instead of racing the first.
 * - A check that throws is recorded as an error of the run; the other checks still run.
 */
export type SweepTrigger = 'scheduled' | 'manual' | 'cli';

const LOCK_KEY = 'clipdock.cleanup_sweep';

export async function runSweep(
  ctx: AppContext,
  opts: { dryRun: boolean; trigger: SweepTrigger; requestedBy?: string },
): Promise<CleanupRun> {
  const lock = new pg.Client({ connectionString: ctx.databaseUrl });
  lock.on('error', () => {});
  await lock.connect();
  try {
    const got = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      LOCK_KEY,
    ]);
    if (!got.rows[0]?.ok) throw new AppError('CLEANUP_RUNNING');
    return await sweepLocked(ctx, opts);
  } finally {
    await lock.end().catch(() => {});
  }
}

async function sweepLocked(
  ctx: AppContext,
  opts: { dryRun: boolean; trigger: SweepTrigger; requestedBy?: string },
): Promise<CleanupRun> {
  const { dryRun } = opts;
  const run = await ctx.db
    .insertInto('cleanup_runs')
    .values({ trigger: opts.trigger, dry_run: dryRun, requested_by: opts.requestedBy ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();

  const results: Array<{ check: CheckName; result?: CheckResult; error?: string }> = [];
  const attempt = async (check: CheckName, fn: () => Promise<CheckResult>) => {
    try {
      results.push({ check, result: await fn() });
    } catch (err) {
      ctx.log.warn({ err, check }, 'cleanup check failed');
      results.push({ check, error: errorText(err) });
    }
  };
  await attempt('expired_uploads', () => checkExpiredUploads(ctx, dryRun));
  await attempt('stalled_processing', () => checkStalledProcessing(ctx, dryRun));
  await attempt('never_queued', () => checkNeverQueued(ctx, dryRun));
  let listing: Awaited<ReturnType<typeof listStore>> | undefined;
  await attempt('orphaned_objects', async () => {
    listing = await listStore(ctx);
    return checkOrphanedObjects(ctx, dryRun, listing);
  });
  if (listing) {
    const l = listing;
    await attempt('missing_originals', () => checkMissingOriginals(ctx, dryRun, l));
  }
  await attempt('orphaned_partials', () => checkOrphanedPartials(ctx, dryRun));
  await attempt('abandoned_multiparts', () => checkAbandonedMultiparts(ctx, dryRun));
  // Last: it also carries out the deletes the checks above scheduled.
  await attempt('failed_deletes', () => checkFailedDeletes(ctx, dryRun));

  const details: CleanupDetail[] = [];
  let examined = 0;
  let errors = 0;
  for (const r of results) {
    if (r.error !== undefined) {
      errors++;
      details.push({
        check: r.check,
        target: '*',
        reason: 'the check itself failed',
        action: 'none',
        outcome: 'error',
        error: r.error,
      });
      continue;
    }
    examined += r.result!.examined;
    details.push(...r.result!.items);
    if (!dryRun) countCleanupRepairs(r.check, r.result!.items.filter((i) => i.outcome === 'repaired').length);
  }
  errors += details.filter((d) => d.outcome === 'error' && d.target !== '*').length;
  const repaired = dryRun ? 0 : details.filter((d) => d.outcome === 'repaired').length;
  await ctx.db
    .updateTable('cleanup_runs')
    .set({ finished_at: sql`now()`, examined, repaired, errors, details: JSON.stringify(details) })
    .where('id', '=', run.id)
    .execute();
  if (repaired + errors > 0)
    ctx.log.info({ runId: run.id, dryRun, examined, repaired, errors }, 'cleanup sweep');
  return (await getRun(ctx.db, run.id))!;
}

/** Runs older than this are dropped by the scheduled sweep (hourly runs: about 2,200 kept). */
export const RUN_RETENTION_DAYS = 90;

/**
 * The scheduled sweep (the `cleanup_sweep` task, checked every minute): runs when the last
 * scheduled sweep started CLEANUP_INTERVAL_MINUTES ago or more, then drops runs older than
 * RUN_RETENTION_DAYS. Returns undefined when not due or when another sweep is running.
 */
export async function runScheduledSweep(ctx: AppContext): Promise<CleanupRun | undefined> {
  const minutes = ctx.config.ops.cleanup.intervalMinutes;
  if (minutes === 0) return undefined;
  const recent = await ctx.db
    .selectFrom('cleanup_runs')
    .select('id')
    .where('trigger', '=', 'scheduled')
    .where('started_at', '>', sql<Date>`now() - make_interval(mins => ${minutes})`)
    .executeTakeFirst();
  if (recent) return undefined;
  try {
    const run = await runSweep(ctx, { dryRun: false, trigger: 'scheduled' });
    await ctx.db
      .deleteFrom('cleanup_runs')
      .where('started_at', '<', sql<Date>`now() - make_interval(days => ${RUN_RETENTION_DAYS})`)
      .execute();
    return run;
  } catch (err) {
    if (err instanceof AppError && err.code === 'CLEANUP_RUNNING') return undefined;
    throw err;
  }
}
