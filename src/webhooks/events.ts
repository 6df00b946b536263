/** The events a webhook can subscribe to; a webhook created without `events` gets all of them. */
export const WEBHOOK_EVENTS = ['video.uploaded', 'video.ready', 'video.failed', 'video.deleted'] as const;
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
