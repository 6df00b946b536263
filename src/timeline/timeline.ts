import { sql } from 'kysely';
import type { Db, DbOrTx } from '../db/database.ts';
import { AppError } from '../errors.ts';

/** One clip on a project's timeline, in play order. `outSeconds` null means "to the end of the clip". */
export interface TimelineItem {
  id: string;
  videoId: string;
  position: number;
  inSeconds: number;
  outSeconds: number | null;
}

/** What a client sends to replace a timeline: the whole list, in order. Items with an `id` keep it. */
export interface TimelineItemInput {
  id?: string | undefined;
  videoId: string;
  inSeconds: number;
  outSeconds: number | null;
}

export interface Project {
  id: string;
  name: string;
  isDefault: boolean;
  createdAt: Date;
}

export async function createProject(db: Db, userId: string, name: string): Promise<Project> {
  return db
    .insertInto('projects')
    .values({ user_id: userId, name: name.trim() })
    .returning(['id', 'name', 'is_default as isDefault', 'created_at as createdAt'])
    .executeTakeFirstOrThrow();
}

async function assertOwnProject(db: DbOrTx, userId: string, projectId: string): Promise<void> {
  const row = await db
    .selectFrom('projects')
    .select('id')
    .where('id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw new AppError('PROJECT_NOT_FOUND');
}

export async function getTimeline(db: DbOrTx, userId: string, projectId: string): Promise<TimelineItem[]> {
  await assertOwnProject(db, userId, projectId);
  return db
    .selectFrom('timeline_items')
    .select(['id', 'video_id as videoId', 'position', 'in_seconds as inSeconds', 'out_seconds as outSeconds'])
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .orderBy('position')
    .execute();
}

/**
 * Replaces a project's timeline with `items`, in that order, in one transaction. Existing items
 * (matched by id) are updated in place; positions are rewritten freely because the
 * (project_id, position) unique constraint is DEFERRABLE INITIALLY DEFERRED: it is checked at
 * commit, when the positions are 0..n-1 again. Every clip must be one of the user's videos, ready,
 * and the in/out points must lie inside it.
 */
export async function replaceTimeline(
  db: Db,
  userId: string,
  projectId: string,
  items: TimelineItemInput[],
): Promise<TimelineItem[]> {
  return db.transaction().execute(async (tx) => {
    await assertOwnProject(tx, userId, projectId);
    // Serialises concurrent replacements of one project's timeline.
    await sql`SELECT 1 FROM projects WHERE id = ${projectId} FOR UPDATE`.execute(tx);

    const videoIds = [...new Set(items.map((i) => i.videoId))];
    const videos = videoIds.length
      ? await tx
          .selectFrom('videos')
          .leftJoin('video_analysis', 'video_analysis.video_id', 'videos.id')
          .select(['videos.id', 'videos.status', 'video_analysis.metadata'])
          .where('videos.user_id', '=', userId)
          .where('videos.id', 'in', videoIds)
          .execute()
      : [];
    const byId = new Map(videos.map((v) => [v.id, v]));
    for (const item of items) {
      const video = byId.get(item.videoId);
      if (!video) throw new AppError('VIDEO_NOT_FOUND', `No video ${item.videoId} in your library.`);
      if (video.status !== 'ready') {
        throw new AppError('VIDEO_NOT_READY', 'Only ready videos can go on the timeline.', {
          videoId: item.videoId,
        });
      }
      if (item.outSeconds !== null && item.outSeconds <= item.inSeconds) {
        throw new AppError('TIMELINE_INVALID_RANGE', 'A clip must end after it starts.', {
          videoId: item.videoId,
        });
      }
      const duration = durationOf(video.metadata);
      if (
        duration !== undefined &&
        (item.inSeconds >= duration || (item.outSeconds ?? 0) > duration + 0.05)
      ) {
        throw new AppError(
          'TIMELINE_INVALID_RANGE',
          `In and out points must lie inside the clip (0–${duration.toFixed(2)} s).`,
          { videoId: item.videoId },
        );
      }
    }

    const existing = await tx
      .selectFrom('timeline_items')
      .select('id')
      .where('project_id', '=', projectId)
      .execute();
    const existingIds = new Set(existing.map((r) => r.id));
    const keep = new Set(items.flatMap((i) => (i.id && existingIds.has(i.id) ? [i.id] : [])));
    const drop = [...existingIds].filter((id) => !keep.has(id));
    if (drop.length) await tx.deleteFrom('timeline_items').where('id', 'in', drop).execute();

    for (const [position, item] of items.entries()) {
      if (item.id && keep.has(item.id)) {
        await tx
          .updateTable('timeline_items')
          .set({
            position,
            video_id: item.videoId,
            in_seconds: item.inSeconds,
            out_seconds: item.outSeconds,
          })
          .where('id', '=', item.id)
          .execute();
      } else {
        await tx
          .insertInto('timeline_items')
          .values({
            project_id: projectId,
            user_id: userId,
            video_id: item.videoId,
            position,
            in_seconds: item.inSeconds,
            out_seconds: item.outSeconds,
          })
          .execute();
      }
    }
    return getTimeline(tx, userId, projectId);
  });
}

/** The clip's duration as the analysis recorded it, when it did. */
function durationOf(metadata: Record<string, unknown> | null): number | undefined {
  const d = metadata?.durationSeconds;
  return typeof d === 'number' && Number.isFinite(d) && d > 0 ? d : undefined;
}
