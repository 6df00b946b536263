import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { enqueue } from '../jobs/queue.ts';
import { deliveryJobOptions } from './events.ts';

/** How long finished deliveries stay in the log. */
export const DELIVERY_LOG_DAYS = 30;

/** The `requeue_webhooks` cron task: stranded deliveries get a job, old finished ones go. */
export async function sweepWebhookDeliveries(
  ctx: AppContext,
): Promise<{ requeued: string[]; pruned: number }> {
  const requeued = await requeueStrandedDeliveries(ctx);
  // In batches, so one sweep never holds a long lock; the next sweep takes the rest.
  const res = await sql`
    DELETE FROM webhook_deliveries WHERE id IN (
      SELECT id FROM webhook_deliveries
      WHERE status <> 'pending' AND created_at < now() - make_interval(days => ${DELIVERY_LOG_DAYS})
      LIMIT 5000
    )`.execute(ctx.db);
  return { requeued, pruned: Number(res.numAffectedRows ?? 0) };
}

/**
 * Gives a job back to pending deliveries that have none.
 * An attempt's outcome and its next job are written together, so this only happens when the
 * job itself gave up: graphile-worker ran out of attempts while the database was failing
 * under it. Deliveries overdue by a few minutes with no runnable job under their key get one
 * (add_job resets an exhausted job). Attempts are not counted here: the delivery keeps its
 * remaining budget.
 */
export async function requeueStrandedDeliveries(ctx: AppContext): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    SELECT d.id
    FROM webhook_deliveries d
    LEFT JOIN graphile_worker.jobs j ON j.key = 'deliver_webhook:' || d.id::text
    WHERE d.status = 'pending'
      AND d.next_attempt_at < now() - interval '5 minutes'
      AND (j.id IS NULL OR (j.locked_at IS NULL AND j.attempts >= j.max_attempts))
    ORDER BY d.next_attempt_at
    LIMIT 500`.execute(ctx.db);
  for (const { id } of rows) {
    await enqueue(ctx.db, 'deliver_webhook', { deliveryId: id }, deliveryJobOptions(id));
  }
  if (rows.length > 0) ctx.log.warn({ count: rows.length }, 'requeued webhook deliveries whose job gave up');
  return rows.map((r) => r.id);
}
