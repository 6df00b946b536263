import { Metadata } from '@tus/utils';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import type { VideoRow } from '../../db/types.ts';
import { AppError } from '../../errors.ts';
import { FINGERPRINT } from '../../uploads/duplicates.ts';
import { createUploadSession, getUploadSession, isUuid } from '../../uploads/sessions.ts';
import { createTusService, TUS_PATH } from '../../uploads/tus-server.ts';
import { SLOT_RETRY_AFTER_SECONDS, UploadSlots } from '../../uploads/upload-slots.ts';
import { findOriginal } from '../../videos/original.ts';
import { userOf } from '../auth.ts';
import { pinForwardedHeaders } from '../forwarded.ts';
import type { App, RouteModule } from '../route-module.ts';
import { serveObject } from '../serve-object.ts';

const sessionBody = z.object({
  projectId: z.string().optional(),
  files: z
    .array(
      z.object({
        name: z.string().trim().min(1).max(500),
        size: z.number().int().min(0),
        type: z.string().max(255).optional(),
        fingerprint: z
          .string()
          .regex(FINGERPRINT, 'fingerprint must be 64 lowercase hex characters (SHA-256)')
          .optional(),
      }),
    )
    .min(1),
});

/** The origin clients reach this API at: PUBLIC_URL when set, else what the request says. */
function originOf(ctx: AppContext, req: FastifyRequest): string {
  return ctx.config.publicUrl?.replace(/\/+$/, '') ?? `${req.protocol}://${req.host}`;
}

export const uploadRoutes: RouteModule = async (app, ctx) => {
  app.post(
    '/api/upload-sessions',
    { schema: { body: sessionBody, tags: ['uploads'] } },
    async (req, reply) => {
      const user = userOf(req);
      const session = await createUploadSession(
        ctx.db,
        ctx.config,
        user.id,
        req.body,
        `${originOf(ctx, req)}${TUS_PATH}`,
      );
      return reply.status(201).send(session);
    },
  );

  app.get(
    '/api/upload-sessions/:id',
    { schema: { params: z.object({ id: z.string() }), tags: ['uploads'] } },
    async (req) => getUploadSession(ctx.db, userOf(req).id, req.params.id),
  );

  app.get(
    '/api/videos/:id/original',
    { schema: { params: z.object({ id: z.string() }), tags: ['videos'] } },
    async (req, reply) => {
      const original = await findOriginal(ctx.db, userOf(req).id, req.params.id);
      // Always a download: the bytes are a stranger's, whatever they claim or sniff as.
      return serveObject(req, reply, ctx.store, original.storageKey, {
        contentType: original.detectedType,
        disposition: 'attachment',
        downloadName: original.name,
      });
    },
  );

  const tus = await createTusService(ctx);
  app.addHook('onClose', async () => tus.stop());
  await app.register(async (scope) => tusRoutes(scope as unknown as App, ctx, tus));
};

/**
 * The tus endpoint. Bodies are not parsed here: tus reads the raw request stream. Every request
 * but OPTIONS is authenticated by the global hook (401 JSON) and checked against the caller's
 * video with one query before tus sees it.
 */
function tusRoutes(app: App, ctx: AppContext, tus: Awaited<ReturnType<typeof createTusService>>): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  const slots = new UploadSlots(ctx.config.connections.maxConcurrentUploadsPerUser);
  const hand = (req: FastifyRequest, reply: FastifyReply, video: VideoRow | undefined) => {
    if (video && (req.method === 'PATCH' || req.method === 'POST')) {
      // A request that streams a body holds one of its user's slots until its reply is done.
      try {
        reply.raw.once('close', slots.take(video.user_id));
      } catch (err) {
        reply.header('retry-after', String(SLOT_RETRY_AFTER_SECONDS));
        throw err;
      }
    }
    reply.hijack();
    pinForwardedHeaders(req);
    return tus.handle(req.raw, reply.raw, video).catch((err: unknown) => {
      ctx.log.error({ err }, 'tus request failed');
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        reply.raw.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'The upload request failed.' } }));
      } else reply.raw.destroy();
    });
  };

  const options = { config: { public: true }, schema: { hide: true } };
  app.options(TUS_PATH, options, (req, reply) => hand(req, reply, undefined));
  app.options(`${TUS_PATH}/:id`, options, (req, reply) => hand(req, reply, undefined));

  app.post(
    TUS_PATH,
    { schema: { hide: true }, bodyLimit: ctx.config.limits.maxFileBytes },
    async (req, reply) => {
      const user = userOf(req);
      let metadata: Record<string, string | null> | undefined;
      try {
        metadata = Metadata.parse(req.headers['upload-metadata'] as string | undefined);
      } catch {
        throw new AppError('UPLOAD_METADATA_MISSING', 'Upload-Metadata is not valid tus metadata.');
      }
      const videoId = metadata?.videoId;
      if (!videoId) throw new AppError('UPLOAD_METADATA_MISSING');
      const video = isUuid(videoId)
        ? await ctx.db
            .selectFrom('videos')
            .selectAll()
            .where('id', '=', videoId)
            .where('user_id', '=', user.id)
            .executeTakeFirst()
        : undefined;
      if (!video) throw new AppError('VIDEO_NOT_FOUND');
      // `uploading` may be re-created when nothing was stored; the store decides under the lock.
      if (video.status !== 'pending_upload' && video.status !== 'uploading') {
        throw new AppError(
          'VIDEO_NOT_AWAITING_UPLOAD',
          `This video is ${video.status}, not waiting for an upload.`,
        );
      }
      const length = req.headers['upload-length'];
      if (typeof length === 'string' && length !== String(video.declared_size)) {
        throw new AppError(
          'UPLOAD_LENGTH_MISMATCH',
          `Upload-Length is ${length} but the session declared ${video.declared_size} bytes for "${video.name}".`,
        );
      }
      return hand(req, reply, video);
    },
  );

  const byId = { schema: { hide: true, params: z.object({ id: z.string() }) } };
  const forUpload =
    (method: 'HEAD' | 'PATCH' | 'DELETE') => async (req: FastifyRequest, reply: FastifyReply) => {
      const user = userOf(req);
      const { id } = req.params as { id: string };
      if (!isUuid(id)) throw new AppError('UPLOAD_NOT_FOUND');
      // A HEAD on an unfinished upload is a client coming back after an interruption: count it
      // in the same round trip as the ownership check.
      const video =
        method === 'HEAD'
          ? await ctx.db
              .updateTable('videos')
              .set((eb) => ({
                upload_resumes: sql`upload_resumes + ${eb.case().when('status', '=', 'uploading').then(1).else(0).end()}`,
              }))
              .where('id', '=', id)
              .where('user_id', '=', user.id)
              .returningAll()
              .executeTakeFirst()
          : await ctx.db
              .selectFrom('videos')
              .selectAll()
              .where('id', '=', id)
              .where('user_id', '=', user.id)
              .executeTakeFirst();
      if (!video) throw new AppError('UPLOAD_NOT_FOUND');
      switch (video.status) {
        case 'uploading':
          return hand(req, reply, video);
        case 'pending_upload':
          // Termination before creation cancels the video; HEAD/PATCH have nothing to resume.
          if (method === 'DELETE') return hand(req, reply, video);
          throw new AppError(
            'UPLOAD_NOT_FOUND',
            'This upload was not created yet. Create it with POST first.',
          );
        case 'failed':
        case 'canceled':
        case 'upload_expired':
          throw new AppError(
            'UPLOAD_NOT_FOUND',
            `This upload is over: the video is ${video.status}${video.error_message ? ` (${video.error_message})` : ''}.`,
          );
        default:
          if (method === 'HEAD') {
            // Finished: report it complete, so a client that missed the last reply stops here.
            return reply
              .status(200)
              .headers({
                'tus-resumable': '1.0.0',
                'upload-offset': String(video.declared_size),
                'upload-length': String(video.declared_size),
                'cache-control': 'no-store',
              })
              .send();
          }
          // Termination never deletes a video whose bytes all arrived: that is DELETE /api/videos/:id.
          if (method === 'DELETE') throw new AppError('UPLOAD_ALREADY_FINISHED');
          throw new AppError('VIDEO_NOT_AWAITING_UPLOAD', 'This upload has finished already.');
      }
    };
  app.route({ method: 'HEAD', url: `${TUS_PATH}/:id`, ...byId, handler: forUpload('HEAD') });
  app.route({
    method: 'PATCH',
    url: `${TUS_PATH}/:id`,
    ...byId,
    bodyLimit: ctx.config.limits.maxFileBytes,
    handler: forUpload('PATCH'),
  });
  app.route({ method: 'DELETE', url: `${TUS_PATH}/:id`, ...byId, handler: forUpload('DELETE') });
}
