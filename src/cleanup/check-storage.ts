import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { keys, type ObjectInfo } from '../storage/object-store.ts';
import { toOriginalMissing } from '../videos/status.ts';
import { runCleanup, scheduleCleanup } from './cleanup.ts';
import { type CheckResult, type CleanupDetail, errorText, outcomeOf } from './report.ts';

/**
 * Checks that compare the database with the store: objects no video owns, videos whose original
 * is gone, and storage deletes that failed before. The store is listed once per sweep (under
 * `videos/`) and shared by the first two.
 */
export interface StoreListing {
  /** When the listing started: rows changed after it are not judged against it. */
  takenAt: Date;
  byVideo: Map<string, ObjectInfo[]>;
}

const VIDEO_KEY = /^videos\/([0-9a-f-]{36})\//;

export async function listStore(ctx: AppContext): Promise<StoreListing> {
  const takenAt = new Date();
  const byVideo = new Map<string, ObjectInfo[]>();
  for (const obj of await ctx.store.list('videos/')) {
    const id = VIDEO_KEY.exec(obj.key)?.[1];
    if (!id) continue;
    const list = byVideo.get(id) ?? [];
    list.push(obj);
    byVideo.set(id, list);
  }
  return { takenAt, byVideo };
}

/**
 * Objects under `videos/<id>/` with no video row, all older than CLEANUP_ORPHAN_GRACE_MINUTES:
 * left by a delete whose cleanup was lost, or written by a run that outlived its video. Video
 * rows are created before any of their bytes, so bytes without a row have no owner to come.
 */
export async function checkOrphanedObjects(
  ctx: AppContext,
  dryRun: boolean,
  listing: StoreListing,
): Promise<CheckResult> {
  const ids = [...listing.byVideo.keys()];
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await ctx.db
      .selectFrom('videos')
      .select('id')
      .where('id', 'in', ids.slice(i, i + 1000))
      .execute();
    for (const r of rows) known.add(r.id);
  }
  const graceMin = ctx.config.ops.cleanup.orphanGraceMinutes;
  const cutoff = listing.takenAt.getTime() - graceMin * 60_000;
  const items: CleanupDetail[] = [];
  for (const [id, objects] of listing.byVideo) {
    if (known.has(id)) continue;
    if (objects.some((o) => o.lastModified.getTime() > cutoff)) continue;
    const prefix = keys.videoPrefix(id);
    const item: CleanupDetail = {
      check: 'orphaned_objects',
      target: prefix,
      reason: `${objects.length} stored object(s) of no video, older than ${graceMin} min`,
      action: 'delete the objects',
      outcome: outcomeOf(dryRun),
      bytes: objects.reduce((n, o) => n + o.size, 0),
    };
    if (!dryRun) {
      try {
        await ctx.store.deletePrefix(prefix);
      } catch (err) {
        // Not lost: the durable delete queue retries it.
        item.outcome = 'error';
        item.error = errorText(err);
        await scheduleCleanup(ctx.db, [
          { kind: 'delete_prefix', target: prefix, reason: 'orphaned objects' },
        ]);
      }
    }
    items.push(item);
  }
  return { examined: listing.byVideo.size, items };
}

/**
 * `uploaded` or `ready` videos whose original is not in the store: failed with ORIGINAL_MISSING
 * (credits of a not-yet-processed video released). Only videos unchanged since before the
 * listing (and the queue grace) are judged, and the original is looked up once more before
 * acting, so an upload finishing meanwhile is never failed. `processing` videos are left to
 * their runner, which fails them itself when the original is gone.
 */
export async function checkMissingOriginals(
  ctx: AppContext,
  dryRun: boolean,
  listing: StoreListing,
): Promise<CheckResult> {
  const graceMin = ctx.config.ops.cleanup.queueGraceMinutes;
  const rows = await ctx.db
    .selectFrom('videos')
    .select(['id', 'storage_key'])
    .where('status', 'in', ['uploaded', 'ready'])
    .where('storage_key', 'is not', null)
    .where('updated_at', '<', listing.takenAt)
    .where('updated_at', '<', sql<Date>`now() - make_interval(mins => ${graceMin})`)
    .execute();
  const missing: Array<{ id: string; key: string }> = [];
  for (const row of rows) {
    const key = row.storage_key!;
    const listed = listing.byVideo.get(row.id)?.some((o) => o.key === key);
    if (!listed && !(await ctx.store.head(key))) missing.push({ id: row.id, key });
  }
  // Most originals gone at once is more likely an unmounted disk or a wrong bucket than loss:
  // failing every video then would turn an outage into data loss, so nothing is done.
  const implausible = missing.length > 10 && missing.length > rows.length / 2;
  const items: CleanupDetail[] = [];
  for (const { id, key } of missing) {
    const item: CleanupDetail = {
      check: 'missing_originals',
      target: id,
      reason: `its original "${key}" is not in storage`,
      action: 'fail the video with ORIGINAL_MISSING and release its credits',
      outcome: implausible ? 'error' : outcomeOf(dryRun),
      ...(implausible
        ? {
            error: `${missing.length} of ${rows.length} originals missing: check the storage mount or bucket; nothing was changed`,
          }
        : {}),
    };
    if (!dryRun && !implausible) {
      const failed = await ctx.db.transaction().execute((tx) => toOriginalMissing(tx, id));
      if (!failed) item.outcome = 'skipped';
    }
    items.push(item);
  }
  return { examined: rows.length, items };
}

/**
 * Storage deletes that failed before (cleanup_jobs with attempts): retried now, with every
 * other pending delete (including the ones this sweep scheduled).
 */
export async function checkFailedDeletes(ctx: AppContext, dryRun: boolean): Promise<CheckResult> {
  const pending = await ctx.db
    .selectFrom('cleanup_jobs')
    .select(['id', 'kind', 'target', 'attempts', 'last_error'])
    .where('done_at', 'is', null)
    .where('attempts', '>', 0)
    .orderBy('id')
    .limit(1000)
    .execute();
  let runError: string | undefined;
  if (!dryRun) {
    await runCleanup(ctx).catch((err: unknown) => {
      runError = errorText(err);
    });
  }
  const done = new Set<string>();
  if (!dryRun && pending.length > 0) {
    const rows = await ctx.db
      .selectFrom('cleanup_jobs')
      .select('id')
      .where(
        'id',
        'in',
        pending.map((p) => p.id),
      )
      .where('done_at', 'is not', null)
      .execute();
    for (const r of rows) done.add(r.id);
  }
  const items = pending.map(
    (p): CleanupDetail => ({
      check: 'failed_deletes',
      target: `${p.kind} ${p.target}`,
      reason: `storage delete failed ${p.attempts} time(s): ${p.last_error ?? 'unknown error'}`,
      action: 'retry the delete',
      outcome: dryRun ? 'would_repair' : done.has(p.id) ? 'repaired' : 'error',
      ...(!dryRun && !done.has(p.id) ? { error: runError ?? 'still pending' } : {}),
    }),
  );
  return { examined: pending.length, items };
}
