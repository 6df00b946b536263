import { z } from 'zod';
import { VIDEO_STATUSES, type VideoStatus } from '../../db/types.ts';
import { AppError } from '../../errors.ts';
import {
  DEFAULT_PAGE_SIZE,
  deleteVideo,
  getVideo,
  listVideos,
  MAX_PAGE_SIZE,
  renameVideo,
  videoStatuses,
} from '../../videos/service.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

const commaList = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

const errorDto = z
  .object({
    code: z.string(),
    message: z.string(),
    /** False: the file itself is the problem; delete it or upload a new export instead of retrying. */
    retryable: z.boolean(),
  })
  .nullable();
const videoDto = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(VIDEO_STATUSES),
  step: z.string().nullable(),
  progress: z.number(),
  error: errorDto,
  projectId: z.string(),
  sessionId: z.string().nullable(),
  size: z.number(),
  mimeType: z.string().nullable(),
  durationSeconds: z.number().nullable(),
  posterUrl: z.string().nullable(),
  /** Enrichment after `ready` (issue 10): its own state; its failure never fails the video. */
  analysis: z
    .object({
      status: z.enum(['pending', 'running', 'ready', 'failed']),
      step: z.string().nullable(),
      progress: z.number(),
      error: z.object({ code: z.string(), message: z.string() }).nullable(),
    })
    .nullable(),
  /** Seconds the running step (a transcode) still needs at ffmpeg's speed, when known. */
  etaSeconds: z.number().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const statusDto = videoDto.pick({
  id: true,
  name: true,
  status: true,
  step: true,
  progress: true,
  error: true,
  analysis: true,
  etaSeconds: true,
  updatedAt: true,
});
const idParams = z.object({ id: z.uuid() });

/** The library: list, batch status, detail, rename, delete. Decisions live in src/videos/service.ts. */
export const videoRoutes: RouteModule = (app, ctx) => {
  app.get(
    '/api/videos/status',
    {
      schema: {
        tags: ['videos'],
        summary: 'Status of several videos, by ids or by upload session (one query)',
        querystring: z.object({
          videoIds: commaList.pipe(z.array(z.uuid()).min(1).max(MAX_PAGE_SIZE)).optional(),
          sessionId: z.uuid().optional(),
        }),
        response: {
          200: z.object({
            videos: z.array(statusDto),
            counts: z.partialRecord(z.enum(VIDEO_STATUSES), z.number()).optional(),
          }),
        },
      },
    },
    async (req) => {
      const { videoIds, sessionId } = req.query;
      if (sessionId) return videoStatuses(ctx, userOf(req).id, { sessionId });
      if (videoIds) return videoStatuses(ctx, userOf(req).id, { videoIds });
      throw new AppError('STATUS_QUERY_MISSING');
    },
  );

  app.get(
    '/api/videos',
    {
      schema: {
        tags: ['videos'],
        summary: 'Your videos, newest first, keyset-paged',
        querystring: z.object({
          projectId: z.uuid().optional(),
          status: commaList
            .pipe(z.array(z.enum(VIDEO_STATUSES)))
            .optional()
            .describe(`Comma-separated statuses: ${VIDEO_STATUSES.join(', ')}`),
          q: z.string().max(200).optional().describe('Part of the name (ignores case and accents)'),
          cursor: z.string().max(500).optional().describe('nextCursor of the previous page'),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
        }),
        response: { 200: z.object({ videos: z.array(videoDto), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { projectId, status, q, cursor, limit } = req.query;
      return listVideos(ctx, userOf(req).id, {
        projectId,
        statuses: status as VideoStatus[] | undefined,
        search: q,
        cursor,
        limit,
      });
    },
  );

  app.get(
    '/api/videos/:id',
    {
      schema: {
        tags: ['videos'],
        summary: 'One video, with its analysis and, once ready, its outputs',
        params: idParams,
        response: {
          200: videoDto.extend({
            analysis: z.unknown(),
            outputs: z.unknown(),
            originalUrl: z
              .string()
              .nullable()
              .describe('Signed, short-lived URL of the original as uploaded'),
          }),
        },
      },
    },
    async (req) => getVideo(ctx, userOf(req).id, req.params.id),
  );

  app.patch(
    '/api/videos/:id',
    {
      schema: {
        tags: ['videos'],
        summary: 'Rename a video',
        params: idParams,
        body: z.object({ name: z.string().trim().min(1).max(500) }),
        response: { 200: videoDto },
      },
    },
    async (req) => renameVideo(ctx, userOf(req).id, req.params.id, req.body.name),
  );

  app.delete(
    '/api/videos/:id',
    {
      schema: {
        tags: ['videos'],
        summary: 'Delete a video and every stored file of it',
        params: idParams,
      },
    },
    async (req, reply) => {
      await deleteVideo(ctx, userOf(req).id, req.params.id);
      return reply.status(204).send();
    },
  );
};
