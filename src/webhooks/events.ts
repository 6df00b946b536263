/**
 * The events a webhook can subscribe to; a webhook created without `events` gets all of them.
 * `video.analysis.ready` is sent when a ready video's enrichment finished (src/processing/settle.ts
 * publishes it with `kind: 'analysis.ready'`).
 */
export const WEBHOOK_EVENTS = [
  'video.uploaded',
  'video.ready',
  'video.failed',
  'video.deleted',
  'video.analysis.ready',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The event a video status announces, if any (the other statuses are not announced). */
export function webhookEventOfStatus(status: string): WebhookEvent | undefined {
  switch (status) {
    case 'uploaded':
      return 'video.uploaded';
    case 'ready':
      return 'video.ready';
    case 'failed':
      return 'video.failed';
    case 'deleted':
      return 'video.deleted';
    default:
      return undefined;
  }
}

export const deliveryJobKey = (deliveryId: string) => `deliver_webhook:${deliveryId}`;

/**
 * How a delivery's job is queued. One job per delivery (the key). Priority 10, after processing
 * jobs (0): an attempt may hold a worker slot for up to WEBHOOK_TIMEOUT_SECONDS, and a flood of
 * deliveries to a slow receiver must not keep videos waiting. graphile-worker's own retries (5)
 * only cover a failing database; the receiver's failures are counted on the delivery row.
 */
export const deliveryJobOptions = (deliveryId: string, runAt?: Date) => ({
  jobKey: deliveryJobKey(deliveryId),
  maxAttempts: 5,
  priority: 10,
  ...(runAt ? { runAt } : {}),
});
