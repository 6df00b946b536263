import { z } from 'zod';
import { listRuns } from '../../cleanup/runs.ts';
import { runSweep } from '../../cleanup/sweep.ts';
import { storageAudit } from '../../ops/storage-audit.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

/**
 * Administrators' API. Every route here is under /api/admin/, which the admin guard
 * (admin-guard.ts) closes to everyone else with 403 ADMIN_ONLY.
 */
export const adminRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/api/admin/cleanup',
    {
      schema: {
        tags: ['admin'],
        // No body is a run (not a dry run), as `{}` is.
        body: z.object({ dryRun: z.boolean().optional() }).strict().nullish(),
      },
    },
    async (req) => {
      const run = await runSweep(ctx, {
        dryRun: req.body?.dryRun ?? false,
        trigger: 'manual',
        requestedBy: userOf(req).id,
      });
      return { run };
    },
  );

  app.get(
    '/api/admin/cleanup-runs',
    {
      schema: {
        tags: ['admin'],
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(20) }),
      },
    },
    async (req) => ({ runs: await listRuns(ctx.db, req.query.limit) }),
  );

  app.get('/api/admin/storage', { schema: { tags: ['admin'] } }, async () => storageAudit(ctx.db));
};
