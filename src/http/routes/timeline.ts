import { z } from 'zod';
import { createProject, getTimeline, replaceTimeline } from '../../timeline/timeline.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

const projectParams = z.object({ id: z.uuid() });

const itemInput = z.object({
  id: z.uuid().optional(),
  videoId: z.uuid(),
  inSeconds: z.number().min(0).default(0),
  outSeconds: z.number().positive().nullable().default(null),
});

/** Projects (create) and each project's timeline: an ordered list of ready clips with in/out points. */
export const timelineRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/api/projects',
    { schema: { body: z.object({ name: z.string().trim().min(1).max(200) }), tags: ['account'] } },
    async (req, reply) => {
      const project = await createProject(ctx.db, userOf(req).id, req.body.name);
      return reply.status(201).send({ project });
    },
  );

  app.get(
    '/api/projects/:id/timeline',
    { schema: { params: projectParams, tags: ['timeline'] } },
    async (req) => ({
      items: await getTimeline(ctx.db, userOf(req).id, req.params.id),
    }),
  );

  app.put(
    '/api/projects/:id/timeline',
    {
      schema: {
        params: projectParams,
        body: z.object({ items: z.array(itemInput).max(500) }),
        tags: ['timeline'],
      },
    },
    async (req) => ({
      items: await replaceTimeline(ctx.db, userOf(req).id, req.params.id, req.body.items),
    }),
  );
};
