import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../context.ts';
import { UNFINISHED } from '../uploads/upload-state.ts';
import { type CheckResult, type CleanupDetail, errorText, outcomeOf } from './report.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Partial tus uploads on local disk (`<uploadsDir>/<videoId>` and its `.json` sidecar) whose
 * video is gone or can no longer receive bytes, all older than CLEANUP_ORPHAN_GRACE_MINUTES:
 * the local-disk kind of an abandoned multipart upload. A video still `pending_upload` or
 * `uploading` owns its file whatever its age (the expiry check ends it, through expire.ts).
 * On S3 the partial bytes are a multipart upload and a tail object: check-multiparts.ts.
 */
export async function checkOrphanedPartials(ctx: AppContext, dryRun: boolean): Promise<CheckResult> {
  if (ctx.config.storage.driver !== 'fs') return { examined: 0, items: [] };
  const dir = ctx.config.uploadsDir;
  const names = await readdir(dir).catch(() => [] as string[]);
  const byId = new Map<string, string[]>();
  for (const name of names) {
    const id = name.endsWith('.json') ? name.slice(0, -5) : name;
    if (!UUID.test(id)) continue;
    byId.set(id, [...(byId.get(id) ?? []), name]);
  }
  if (byId.size === 0) return { examined: 0, items: [] };
  const ids = [...byId.keys()];
  const rows = await ctx.db.selectFrom('videos').select(['id', 'status']).where('id', 'in', ids).execute();
  const statusOf = new Map(rows.map((r) => [r.id, r.status]));
  const graceMin = ctx.config.ops.cleanup.orphanGraceMinutes;
  const cutoff = Date.now() - graceMin * 60_000;
  const items: CleanupDetail[] = [];
  for (const [id, files] of byId) {
    const status = statusOf.get(id);
    if (status && UNFINISHED.includes(status)) continue;
    const stats = await Promise.all(files.map((f) => stat(path.join(dir, f)).catch(() => undefined)));
    if (stats.some((s) => !s || s.mtimeMs > cutoff)) continue;
    const item: CleanupDetail = {
      check: 'orphaned_partials',
      target: id,
      reason: `partial upload of ${status ? `a video that is ${status}` : 'no video'}, untouched for over ${graceMin} min`,
      action: 'delete the partial upload',
      outcome: outcomeOf(dryRun),
      bytes: stats.reduce((n, s) => n + (s?.size ?? 0), 0),
    };
    if (!dryRun) {
      try {
        for (const f of files) await rm(path.join(dir, f), { force: true });
      } catch (err) {
        item.outcome = 'error';
        item.error = errorText(err);
      }
    }
    items.push(item);
  }
  return { examined: byId.size, items };
}
