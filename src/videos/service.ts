import { originalPath, signedPath } from '../accounts/media-urls.ts';
import { type CleanupItem, scheduleCleanup } from '../cleanup/cleanup.ts';
import type { AppContext } from '../context.ts';
import { releaseReservation } from '../credits/ledger.ts';
import type { VideoStatus } from '../db/types.ts';
import { AppError } from '../errors.ts';
import { publishVideoEvent } from '../events/video-events.ts';
import { processJobKey } from '../jobs/queue.ts';
import {
  type PresentedAnalysis,
  type PresentedOutputs,
  presentAnalysis,
  presentOutputs,
} from '../processing/presenter.ts';
import { keys } from '../storage/object-store.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import {
  deleteRow,
  findAnalysis,
  findVideo,
  listPage,
  lockVideo,
  removeProcessingJob,
  setName,
  statesByIds,
  statesBySession,
} from './repository.ts';
import { publishDeleted } from './status.ts';
import { UNFINISHED, uploadCleanupTarget } from './upload-status.ts';
import { presentVideo, presentVideos, type VideoDto, videoEventOf } from './video-dto.ts';

/** The library's decisions: what a user may see and change of their videos. */

const ORIGINAL_STORED: VideoStatus[] = ['uploaded', 'processing', 'ready'];

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export interface ListQuery {
  projectId?: string;
  statuses?: VideoStatus[];
  search?: string;
  cursor?: string;
  limit?: number;
}

export async function listVideos(
  ctx: AppContext,
  userId: string,
  q: ListQuery,
): Promise<{ videos: VideoDto[]; nextCursor: string | null }> {
  const limit = Math.min(q.limit ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const rows = await listPage(ctx.db, userId, {
    projectId: q.projectId,
    statuses: q.statuses,
    search: q.search?.trim() || undefined,
    after: q.cursor ? decodeCursor(q.cursor) : undefined,
    limit,
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    videos: await presentVideos(page, ctx),
    nextCursor:
      rows.length > limit && last ? encodeCursor({ createdAt: last.created_at_exact, id: last.id }) : null,
  };
}

export type StatusQuery = { videoIds: string[] } | { sessionId: string };

export interface VideoStatusDto {
  id: string;
  name: string;
  status: VideoStatus;
  step: string | null;
  progress: number;
  error: VideoDto['error'];
  analysis: VideoDto['analysis'];
  etaSeconds: VideoDto['etaSeconds'];
  updatedAt: string;
}

/** Batch status, one query. By session it also counts the session's videos per status. */
export async function videoStatuses(
  ctx: AppContext,
  userId: string,
  q: StatusQuery,
): Promise<{ videos: VideoStatusDto[]; counts?: Partial<Record<VideoStatus, number>> }> {
  const rows =
    'sessionId' in q
      ? await statesBySession(ctx.db, userId, q.sessionId)
      : await statesByIds(ctx.db, userId, q.videoIds);
  const videos = (await presentVideos(rows, ctx)).map(
    ({ id, name, status, step, progress, error, analysis, etaSeconds, updatedAt }) => ({
      id,
      name,
      status,
      step,
      progress,
      error,
      analysis,
      etaSeconds,
      updatedAt,
    }),
  );
  if (!('sessionId' in q)) return { videos };
  const counts: Partial<Record<VideoStatus, number>> = {};
  for (const v of videos) counts[v.status] = (counts[v.status] ?? 0) + 1;
  return { videos, counts };
}

export async function getVideo(
  ctx: AppContext,
  userId: string,
  videoId: string,
): Promise<
  Omit<VideoDto, 'analysis'> & {
    analysis: PresentedAnalysis | null;
    outputs: PresentedOutputs | null;
    originalUrl: string | null;
  }
> {
  const row = await findVideo(ctx.db, userId, videoId);
  if (!row) throw new AppError('VIDEO_NOT_FOUND');
  const analysis = await findAnalysis(ctx.db, videoId);
  const outputs = row.status === 'ready' ? await presentOutputs(ctx, userId, videoId, analysis) : null;
  const dto = await presentVideo(row, ctx);
  return {
    ...dto,
    // One signature for the one poster, whichever field a client reads it from.
    posterUrl: outputs?.poster ?? dto.posterUrl,
    analysis: presentAnalysis(analysis, row.status),
    outputs,
    // These statuses always have the stored original (the upload finished).
    originalUrl: ORIGINAL_STORED.includes(row.status) ? signedPath(ctx, originalPath(videoId), userId) : null,
  };
}

/** Renames and announces it, in one transaction. */
export async function renameVideo(
  ctx: AppContext,
  userId: string,
  videoId: string,
  name: string,
): Promise<VideoDto> {
  return ctx.db.transaction().execute(async (tx) => {
    const updated = await setName(tx, userId, videoId, name);
    if (!updated) throw new AppError('VIDEO_NOT_FOUND');
    const row = (await findVideo(tx, userId, videoId))!;
    const dto = await presentVideo(row, ctx);
    await publishVideoEvent(tx, videoEventOf(row, dto, { name: dto.name }));
    return dto;
  });
}

/**
 * Deletes a video, in one transaction: its open credit reservation is released, its pending
 * processing job dropped, the deletion of every stored byte (outputs, original, a partial
 * upload) recorded for the worker — which retries a failing storage delete until it succeeds —
 * the row removed (its analysis with it, by cascade) and a `deleted` event published. If any of
 * it fails, none of it happened.
 */
export async function deleteVideo(ctx: AppContext, userId: string, videoId: string): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const video = await lockVideo(tx, userId, videoId);
    if (!video) throw new AppError('VIDEO_NOT_FOUND');
    // Before the row goes: the reservation's video_id is set to null by the delete.
    await releaseReservation(tx, videoId);
    await removeProcessingJob(tx, processJobKey(videoId));
    const prefix = keys.videoPrefix(videoId);
    const items: CleanupItem[] = [{ kind: 'delete_prefix', target: prefix, reason: 'video deleted' }];
    if (video.storage_key && !video.storage_key.startsWith(prefix)) {
      items.push({ kind: 'delete_object', target: video.storage_key, reason: 'video deleted' });
    }
    // A partial tus upload lives outside the video's prefix on disk (see uploadCleanupTarget).
    if (UNFINISHED.includes(video.status) || video.upload_id) {
      items.push({
        kind: 'delete_upload',
        target: uploadCleanupTarget(ctx.config, videoId),
        reason: 'video deleted',
      });
    }
    await scheduleCleanup(tx, items);
    await deleteRow(tx, videoId);
    await publishDeleted(tx, { videoId, userId, projectId: video.project_id, sessionId: video.session_id });
  });
}
