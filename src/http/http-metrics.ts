import { observeHttpRequest } from '../metrics/metrics.ts';
import type { App } from './route-module.ts';

/**
 * Times every request by its route pattern (never the raw URL: ids would make a series per
 * video). Requests that matched no route share the label "unmatched".
 */
export function installHttpMetrics(app: App): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    observeHttpRequest(route, req.method, reply.statusCode, reply.elapsedTime / 1000);
  });
}
