import { stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { expect } from 'vitest';
import { reserveForVideos } from '../../src/credits/ledger.ts';
import type { Db } from '../../src/db/database.ts';
import { enqueue, processJobKey } from '../../src/jobs/queue.ts';
import { keys } from '../../src/storage/object-store.ts';
import type { TestServer } from '../helpers/server.ts';

/**
 * What an upload session plus a finished tus upload leave behind, without the upload path:
 * a video row in `uploaded` with its original in the store, an open credit reservation, and
 * (unless `enqueue: false`) the process_video job.
 */
export async function uploadedVideo(
  server: TestServer,
  userId: string,
  file: string,
  opts: { enqueue?: boolean; credits?: number } = {},
): Promise<string> {
  const ctx = server.node.ctx;
  const size = (await stat(file)).size;
  const videoId = await ctx.db.transaction().execute(async (tx) => {
    const project = await tx
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', userId)
      .where('is_default', '=', true)
      .executeTakeFirstOrThrow();
    const v = await tx
      .insertInto('videos')
      .values({
        user_id: userId,
        project_id: project.id,
        name: path.basename(file),
        status: 'uploaded',
        declared_size: size,
        received_bytes: size,
        upload_progress: 100,
        upload_completed_at: sql`now()`,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx
      .updateTable('videos')
      .set({ storage_key: keys.original(v.id) })
      .where('id', '=', v.id)
      .execute();
    await reserveForVideos(tx, userId, [v.id], opts.credits ?? ctx.config.limits.creditsPerVideo);
    return v.id;
  });
  await ctx.store.putFile(keys.original(videoId), file);
  if (opts.enqueue !== false) {
    await enqueue(ctx.db, 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
  }
  return videoId;
}

export async function videoRow(db: Db, videoId: string) {
  return db.selectFrom('videos').selectAll().where('id', '=', videoId).executeTakeFirstOrThrow();
}
export async function analysisRow(db: Db, videoId: string) {
  return db.selectFrom('video_analysis').selectAll().where('video_id', '=', videoId).executeTakeFirst();
}

/** Waits until the video reaches one of `statuses` (polling the database; no fixed sleeps). */
export async function waitForStatus(
  db: Db,
  videoId: string,
  statuses: string[],
  timeoutMs = 110_000,
): Promise<Awaited<ReturnType<typeof videoRow>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await videoRow(db, videoId);
    if (statuses.includes(v.status)) return v;
    if (Date.now() > deadline) {
      const a = await analysisRow(db, videoId);
      expect.fail(
        `video ${videoId} is ${v.status} (step ${a?.processing_step}, ${a?.error_code}: ${a?.error_message}), waited for ${statuses.join('|')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function reservations(db: Db, videoId: string) {
  return db
    .selectFrom('credit_reservations')
    .select(['state', 'amount'])
    .where('video_id', '=', videoId)
    .orderBy('created_at')
    .execute();
}

export async function credits(db: Db, userId: string) {
  return db
    .selectFrom('credit_accounts')
    .select(['balance', 'reserved'])
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
}

/**
 * Waits until the video's enrichment (after `ready`) reaches one of `statuses` (polling the
 * database; no fixed sleeps), and returns its analysis row.
 */
export async function waitForAnalysis(
  db: Db,
  videoId: string,
  statuses: string[] = ['ready', 'failed'],
  timeoutMs = 110_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await analysisRow(db, videoId);
    if (a && statuses.includes(a.enrichment_status)) return a;
    if (Date.now() > deadline) {
      const v = await videoRow(db, videoId);
      expect.fail(
        `video ${videoId} is ${v.status}, analysis ${a?.enrichment_status} (step ${a?.enrichment_step}, ${a?.enrichment_error_code}: ${a?.enrichment_error_message}), waited for ${statuses.join('|')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
