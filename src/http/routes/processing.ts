import { z } from 'zod';
import { outputKey, REPROCESSABLE_STEPS, reprocessVideo, retryVideo } from '../../processing/service.ts';
import { outputResponse, outputType } from '../../storage/served-types.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';
import { serveObject } from '../serve-object.ts';

const params = z.object({ id: z.uuid() });
/** Retry, re-analysis and the outputs of processing. */
export const processingRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/api/videos/:id/retry',
    {
      schema: { params, tags: ['processing'], summary: 'Run a failed video again (reserves credits again)' },
    },
    async (req, reply) => {
      const result = await retryVideo(ctx, userOf(req).id, req.params.id);
      return reply.status(202).send({ video: { id: req.params.id, ...result } });
    },
  );

  app.post(
    '/api/videos/:id/reprocess',
    {
      schema: {
        params,
        body: z.object({ steps: z.array(z.enum(REPROCESSABLE_STEPS)).min(1).optional() }).optional(),
        tags: ['processing'],
        summary: 'Re-analyse a ready video (free; keeps the converted video)',
      },
    },
    async (req, reply) => {
      const result = await reprocessVideo(ctx, userOf(req).id, req.params.id, req.body?.steps);
      return reply.status(202).send({ video: { id: req.params.id, ...result } });
    },
  );

  // Fastify answers HEAD for this GET route too (exposeHeadRoutes); serveObject handles both.
  app.get(
    '/api/videos/:id/outputs/:name',
    {
      schema: {
        params: z.object({ id: z.uuid(), name: z.string().min(1).max(40) }),
        tags: ['processing'],
        summary: 'A processing output (video.mp4, poster.jpg, storyboard.jpg, ...), with HTTP Range',
      },
    },
    async (req, reply) => {
      const { id, name } = req.params;
      const key = await outputKey(ctx, userOf(req).id, id, name);
      // On S3 the browser fetches the object itself, with Range, from a short-lived signed URL.
      const signed = await ctx.store.signedUrl(key, 3600, outputResponse(key));
      if (signed) return reply.redirect(signed, 302);
      return serveObject(req, reply, ctx.store, key, {
        contentType: outputType(name),
        disposition: 'inline',
        cacheSeconds: 300,
      });
    },
  );
};
