import { rm } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import type { DbOrTx } from '../db/database.ts';
import { enqueue } from '../jobs/queue.ts';
import { discardS3Upload, S3UploadRows, s3Target, tailKey } from '../uploads/s3-upload-state.ts';

/**
 * Durable deletion of stored bytes. A delete is first written to `cleanup_jobs` in the same
 * transaction that removes or cancels what owned the bytes, then carried out by the worker.
 * A storage delete that fails stays pending and is retried (with graphile-worker's backoff, and
 * by the periodic sweep) until it succeeds, so nothing is orphaned and nothing is lost by a crash
 * between the database change and the storage call.
 */
export interface CleanupItem {
  /** delete_object: one key; delete_prefix: every key under it; delete_upload: a tus upload id (partial file). */
  kind: 'delete_object' | 'delete_prefix' | 'delete_upload';
  target: string;
  reason: string;
}

export const CLEANUP_JOB_KEY = 'cleanup_storage';

export async function scheduleCleanup(tx: DbOrTx, items: CleanupItem[]): Promise<void> {
  if (items.length === 0) return;
  await tx.insertInto('cleanup_jobs').values(items).execute();
  await enqueue(tx, 'cleanup_storage', {}, { jobKey: CLEANUP_JOB_KEY, maxAttempts: 20 });
}

/**
 * Carries out pending deletes, oldest first. Rows are claimed with SKIP LOCKED so several
 * workers share the work. Throws when any delete failed, so the job is retried with backoff.
 */
export async function runCleanup(
  ctx: AppContext,
  batchSize = 100,
): Promise<{ done: number; failed: number }> {
  let done = 0;
  let failed = 0;
  for (;;) {
    const batch = await ctx.db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('cleanup_jobs')
        .selectAll()
        .where('done_at', 'is', null)
        .where('attempts', '<', 1000)
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      for (const row of rows) {
        try {
          await deleteTarget(ctx, row);
          await tx
            .updateTable('cleanup_jobs')
            .set({ done_at: sql`now()` })
            .where('id', '=', row.id)
            .execute();
          done++;
        } catch (err) {
          failed++;
          await tx
            .updateTable('cleanup_jobs')
            .set((eb) => ({
              attempts: eb('attempts', '+', 1),
              last_error: String((err as Error).message).slice(0, 1000),
            }))
            .where('id', '=', row.id)
            .execute();
        }
      }
      return rows.length;
    });
    if (batch < batchSize) break;
  }
  if (failed > 0)
    throw new Error(`${failed} storage delete(s) failed; they stay pending and will be retried`);
  return { done, failed };
}

async function deleteTarget(
  ctx: AppContext,
  row: { kind: CleanupItem['kind']; target: string },
): Promise<void> {
  switch (row.kind) {
    case 'delete_object':
      return ctx.store.delete(row.target);
    case 'delete_prefix':
      return ctx.store.deletePrefix(row.target);
    case 'delete_upload':
      // A partial tus upload: on disk, the data file and its .json sidecar; on S3 a multipart
      // upload, its tail and possibly a just-completed original.
      if (ctx.config.storage.driver === 'fs') {
        const base = path.join(ctx.config.uploadsDir, path.basename(row.target));
        await rm(base, { force: true });
        await rm(`${base}.json`, { force: true });
        return;
      }
      return deleteS3Upload(ctx, row.target);
  }
}

const ORIGINAL_KEY = /^videos\/([0-9a-f-]{36})\/original$/;

/**
 * An unfinished upload on S3 (target: the video's original key): its multipart upload is aborted
 * and its tail deleted (s3-upload-state.ts), then whatever sits under the original's key (a
 * PutObject or Complete that finished just before the end) is deleted.
 */
async function deleteS3Upload(ctx: AppContext, target: string): Promise<void> {
  const videoId = ORIGINAL_KEY.exec(target)?.[1];
  const s3 = s3Target(ctx.config, ctx.store);
  if (videoId && s3) {
    const rows = new S3UploadRows(ctx.db);
    const state = await rows.load(videoId);
    if (state) await discardS3Upload(s3.client, s3.bucket, rows, state);
    await ctx.store.delete(tailKey(videoId));
    return ctx.store.delete(target);
  }
  return ctx.store.deletePrefix(target);
}
