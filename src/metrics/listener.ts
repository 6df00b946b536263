import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppContext } from '../context.ts';
import { isDatabaseUp } from '../db/database.ts';
import { ERRORS } from '../errors.ts';
import { checkReadiness, readinessError } from '../ops/health.ts';
import { metricsAuthorized, renderMetrics } from './collect.ts';

/**
 * The small HTTP listener of a worker-only node: `/metrics` and the health probes, nothing
 * else. Plain node:http, so a worker never loads the API's HTTP stack. Bodies have the same
 * shapes as on an API node.
 *
 * A port already in use (an API node on the same machine with the same PORT) does not stop the
 * worker: processing matters more than its metrics. It is logged with what to do, and the
 * listener is undefined.
 */
export async function startMetricsListener(
  ctx: AppContext,
  port: number,
): Promise<{ url: string; close(): Promise<void> } | undefined> {
  const server = http.createServer((req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      ctx.log.warn({ err }, 'metrics listener request failed');
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: ERRORS.INTERNAL[1] } });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, ctx.config.host, () => resolve());
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    ctx.log.warn(
      `The worker's /metrics and health listener could not use port ${port} (in use by another process): set METRICS_PORT to a free port. The worker runs without it.`,
    );
    return undefined;
  }
  const { port: bound } = server.address() as AddressInfo;
  const host = ctx.config.host === '0.0.0.0' || ctx.config.host === '::' ? 'localhost' : ctx.config.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(ctx: AppContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, { error: { code: 'BAD_REQUEST', message: 'Only GET is served here.' } });
  }
  if (url === '/api/health/live') return send(res, 200, { status: 'ok' });
  if (url === '/api/health') {
    // As on an API node: the database answers, or 503.
    if (await isDatabaseUp(ctx.db)) return send(res, 200, { status: 'ok' });
    const message = 'The database is not answering.';
    return send(res, 503, { status: 'unavailable', error: { code: 'DATABASE_UNAVAILABLE', message } });
  }
  if (url === '/api/health/ready') {
    const r = await checkReadiness(ctx.db, ctx.store);
    if (r.ready) return send(res, 200, { status: 'ok', checks: r.checks });
    return send(res, 503, { status: 'unavailable', checks: r.checks, error: readinessError(r) });
  }
  if (url === '/metrics') {
    if (!metricsAuthorized(ctx.config.ops.metricsToken, req.headers.authorization)) {
      const [status, message] = ERRORS.METRICS_TOKEN_REQUIRED;
      return send(res, status, { error: { code: 'METRICS_TOKEN_REQUIRED', message } });
    }
    const m = await renderMetrics(ctx.db);
    res.writeHead(200, { 'content-type': m.contentType });
    res.end(m.body);
    return;
  }
  send(res, 404, {
    error: {
      code: 'NOT_FOUND',
      message: 'A worker node serves only /metrics and /api/health(/live, /ready).',
    },
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
