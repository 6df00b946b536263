import { AppError } from '../../errors.ts';
import { metricsAuthorized, renderMetrics } from '../../metrics/collect.ts';
import { checkReadiness, readinessError } from '../../ops/health.ts';
import type { RouteModule } from '../route-module.ts';

/**
 * Probes and metrics for orchestrators and Prometheus: liveness (the process answers),
 * readiness (its database and storage answer) and `GET /metrics`. A worker-only node serves the
 * same on its small listener (src/metrics/listener.ts).
 */
export const opsRoutes: RouteModule = (app, ctx) => {
  app.get('/api/health/live', { schema: { tags: ['system'] }, config: { public: true } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/api/health/ready',
    { schema: { tags: ['system'] }, config: { public: true } },
    async (_req, reply) => {
      const r = await checkReadiness(ctx.db, ctx.store);
      if (r.ready) return { status: 'ok', checks: r.checks };
      return reply.status(503).send({ status: 'unavailable', checks: r.checks, error: readinessError(r) });
    },
  );

  app.get('/metrics', { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
    if (!metricsAuthorized(ctx.config.ops.metricsToken, req.headers.authorization)) {
      throw new AppError('METRICS_TOKEN_REQUIRED');
    }
    const m = await renderMetrics(ctx.db);
    return reply.type(m.contentType).send(m.body);
  });
};
