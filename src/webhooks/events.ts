/**
 * The events a webhook can subscribe to; a webhook created without `events` gets all of them.
 * `video.analysis.ready` is in the public contract and accepted now, but nothing emits it yet:
 * analysis is part of processing to `ready` until a separate enrichment stage exists, which
 * then announces it through `enqueueWebhookDeliveries`.
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
