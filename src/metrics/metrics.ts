import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus series Clipdock exports, in one place, prefixed `clipdock_`. (A module that
 * keeps its own series may register them here via `registry`, or on prom-client's default
 * registry: /metrics renders both, see collect.ts.) Other modules
 * call the small functions below (one line at the call site) and never touch prom-client.
 *
 * The registry is per process: counters and histograms count what this process did (what
 * Prometheus expects of one scrape target). Gauges read from the database are filled in by the
 * node being scraped, just before rendering (see collect.ts).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'clipdock_' });

const httpDuration = new Histogram({
  name: 'clipdock_http_request_duration_seconds',
  help: 'HTTP request durations, by route pattern, method and status.',
  labelNames: ['route', 'method', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

const uploadBytes = new Counter({
  name: 'clipdock_upload_bytes_received_total',
  help: 'Upload bytes written to storage (tus request bodies).',
  registers: [registry],
});

const uploadRequests = new Counter({
  name: 'clipdock_upload_requests_total',
  help: 'Upload requests with a body (tus PATCH/POST) that wrote bytes or ended.',
  registers: [registry],
});

const uploadOutcomes = new Counter({
  name: 'clipdock_uploads_total',
  help: 'Uploads that ended, by outcome (uploaded, failed, canceled, upload_expired, refused).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const stepDuration = new Histogram({
  name: 'clipdock_processing_step_duration_seconds',
  help: 'Durations of processing steps (finished or not), by step.',
  labelNames: ['step'] as const,
  buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600],
  registers: [registry],
});

const processingFailures = new Counter({
  name: 'clipdock_processing_failures_total',
  help: 'Videos whose processing failed for good, by error code.',
  labelNames: ['code'] as const,
  registers: [registry],
});

const cleanupRepairs = new Counter({
  name: 'clipdock_cleanup_repairs_total',
  help: 'Items the cleanup sweep repaired (not dry runs), by check.',
  labelNames: ['check'] as const,
  registers: [registry],
});

const webhookAttempts = new Counter({
  name: 'clipdock_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome (delivered, retry, failed).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Live WebSockets held by the hubs of this process (one per API node). */
const socketSources = new Set<() => number>();
new Gauge({
  name: 'clipdock_websocket_connections',
  help: 'Open live-status WebSocket connections on this process.',
  registers: [registry],
  collect() {
    let n = 0;
    for (const count of socketSources) n += count();
    this.set(n);
  },
});

export const videosByStatus = new Gauge({
  name: 'clipdock_videos',
  help: 'Videos by status (read from the database on scrape).',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'clipdock_queue_jobs',
  help: 'Jobs waiting or running in the job queue, by task.',
  labelNames: ['task'] as const,
  registers: [registry],
});

export const queueOldestAge = new Gauge({
  name: 'clipdock_queue_oldest_job_age_seconds',
  help: 'Age of the oldest job that is due and not yet taken (0 when none).',
  registers: [registry],
});

export function observeHttpRequest(route: string, method: string, status: number, seconds: number): void {
  httpDuration.observe({ route, method, status: String(status) }, seconds);
}

export function countUploadBody(bytes: number): void {
  uploadRequests.inc();
  if (bytes > 0) uploadBytes.inc(bytes);
}

export function countUploadOutcome(outcome: string): void {
  uploadOutcomes.inc({ outcome });
}

/** Starts timing a processing step; call the result when it ends, however it ends. */
export function startStepTimer(step: string): () => void {
  return stepDuration.startTimer({ step }) as () => void;
}

export function countProcessingFailure(code: string): void {
  processingFailures.inc({ code });
}

export function countCleanupRepairs(check: string, n: number): void {
  if (n > 0) cleanupRepairs.inc({ check }, n);
}

export function countWebhookAttempt(outcome: 'delivered' | 'retry' | 'failed'): void {
  webhookAttempts.inc({ outcome });
}

/** Registers a count of open WebSockets; returns its removal (for a node's stop). */
export function addSocketSource(count: () => number): () => void {
  socketSources.add(count);
  return () => socketSources.delete(count);
}
