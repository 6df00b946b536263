import { z } from 'zod';
import { evaluateAlerts } from '../../alerts/evaluate.ts';
import { listAlerts } from '../../alerts/list.ts';
import { uploadAnalytics } from '../../ops/analytics.ts';
import type { RouteModule } from '../route-module.ts';

/** Administrators' analytics and alerts (under /api/admin/: closed by the admin guard). */
export const adminAlertsRoutes: RouteModule = (app, ctx) => {
  app.get(
    '/api/admin/analytics',
    {
      schema: {
        tags: ['admin'],
        querystring: z.object({ days: z.coerce.number().int().min(1).max(366).default(30) }),
      },
    },
    async (req) => uploadAnalytics(ctx.db, req.query.days),
  );

  app.get(
    '/api/admin/alerts',
    {
      schema: {
        tags: ['admin'],
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
      },
    },
    async (req) => listAlerts(ctx.db, req.query.limit),
  );

  /** Evaluates the rules now (they also run every minute on a worker), then lists the alerts. */
  app.post('/api/admin/alerts/evaluate', { schema: { tags: ['admin'] } }, async () => {
    const report = await evaluateAlerts(ctx);
    return { report, ...(await listAlerts(ctx.db, 50)) };
  });
};
