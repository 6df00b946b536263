import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { enqueue } from '../jobs/queue.ts';
import { deliveryJobKey, deliveryJobOptions } from './events.ts';
import { ownedWebhook } from './webhooks.ts';

/** The delivery log of one webhook, and manual redelivery. */

export interface DeliveryDto {
  id: string;
  event: string;
  videoId: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** The receiver's status code on the last attempt (null: no answer, see `error`). */
  lastStatusCode: number | null;
  error: string | null;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The newest deliveries first. */
export async function listDeliveries(
  ctx: AppContext,
  userId: string,
  webhookId: string,
  limit = 50,
): Promise<DeliveryDto[]> {
  await ownedWebhook(ctx, userId, webhookId);
  const rows = await ctx.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    event: r.event_type,
    videoId: r.video_id,
    status: r.status,
    attempts: r.attempts,
    lastStatusCode: r.last_status_code,
    error: r.last_error,
    createdAt: r.created_at.toISOString(),
    lastAttemptAt: iso(r.last_attempt_at),
    nextAttemptAt: iso(r.next_attempt_at),
    deliveredAt: iso(r.delivered_at),
  }));
}

/**
 * Sends a delivery again now, whatever its state (same body and `webhook-id`). A pending retry
 * is brought forward rather than doubled: its job is replaced. Should the attempt fail, the
 * backoff continues while attempts remain, else the delivery is failed again.
 */
export async function redeliver(
  ctx: AppContext,
  userId: string,
  webhookId: string,
  deliveryId: string,
): Promise<void> {
  await ownedWebhook(ctx, userId, webhookId);
  await ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', next_attempt_at: sql`now()`, delivered_at: null })
      .where('id', '=', deliveryId)
      .where('webhook_id', '=', webhookId)
      .returning('id')
      .executeTakeFirst();
    if (!row) throw new AppError('WEBHOOK_DELIVERY_NOT_FOUND');
    // A queued job keeps its run_at under the same key (preserve_run_at): drop it first.
    await sql`SELECT graphile_worker.remove_job(${deliveryJobKey(deliveryId)})`.execute(tx);
    await enqueue(tx, 'deliver_webhook', { deliveryId }, deliveryJobOptions(deliveryId));
  });
}
