import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { AppContext } from '../context.ts';
import { isAppError } from '../errors.ts';
import { enqueue } from '../jobs/queue.ts';
import { countWebhookAttempt } from '../metrics/metrics.ts';
import { resolveWebhookTarget } from './address-policy.ts';
import { deliveryJobOptions } from './events.ts';
import { postWebhook, type SendResult } from './http-send.ts';

/** The longest wait between two attempts: later retries come every 6 hours. */
const MAX_DELAY_SECONDS = 6 * 3600;

/**
 * The wait after failed attempt `attempt` (1-based): base, 2×base, 4×base, … capped at 6 h.
 * With the defaults (30 s, 14 attempts) the last attempt comes about 26 hours after the first.
 */
export function retryDelaySeconds(attempt: number, baseSeconds: number): number {
  return Math.min(MAX_DELAY_SECONDS, baseSeconds * 2 ** Math.max(0, attempt - 1));
}

/**
 * One attempt of one delivery (the `deliver_webhook` job). Invariants:
 * - Only a `pending` delivery is attempted; a delivered or failed one, or one whose webhook was
 *   deleted (cascade), is left alone, so a duplicate job is harmless.
 * - The outcome and, after a failure, the next attempt's job are written in one transaction:
 *   a node dying between them cannot lose the retry. A node dying during the HTTP call leaves
 *   the job to graphile-worker, which runs it again (at-least-once: receivers dedupe on
 *   `webhook-id`, which is the same for every attempt of a delivery).
 * - The address is checked again before every attempt, on a fresh DNS answer (see
 *   address-policy.ts); a refused address is a failed attempt like any other.
 */
export async function deliverWebhook(ctx: AppContext, deliveryId: string): Promise<void> {
  const d = await ctx.db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .select(['d.id', 'd.status', 'd.payload', 'd.attempts', 'w.url', 'w.secret'])
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();
  if (d?.status !== 'pending') return;

  const result = await attempt(ctx, d);
  const cfg = ctx.config.webhooks;
  await ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .updateTable('webhook_deliveries')
      .set({
        attempts: sql`attempts + 1`,
        last_status_code: result.statusCode,
        last_error: result.error,
        last_attempt_at: sql`now()`,
      })
      .where('id', '=', deliveryId)
      .where('status', '=', 'pending')
      .returning('attempts')
      .executeTakeFirst();
    if (!row) return; // delivered meanwhile by a redelivery, or its webhook was deleted
    countWebhookAttempt(result.ok ? 'delivered' : row.attempts < cfg.maxAttempts ? 'retry' : 'failed');
    if (result.ok) {
      await tx
        .updateTable('webhook_deliveries')
        .set({ status: 'delivered', delivered_at: sql`now()`, next_attempt_at: null })
        .where('id', '=', deliveryId)
        .execute();
    } else if (row.attempts < cfg.maxAttempts) {
      const runAt = new Date(Date.now() + retryDelaySeconds(row.attempts, cfg.retryBaseSeconds) * 1000);
      await tx
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: runAt })
        .where('id', '=', deliveryId)
        .execute();
      // This job is running, so graphile-worker adds a new one under the key.
      await enqueue(tx, 'deliver_webhook', { deliveryId }, deliveryJobOptions(deliveryId, runAt));
    } else {
      await tx
        .updateTable('webhook_deliveries')
        .set({ status: 'failed', next_attempt_at: null })
        .where('id', '=', deliveryId)
        .execute();
    }
  });
  ctx.log.debug(
    { deliveryId, ok: result.ok, statusCode: result.statusCode, error: result.error },
    'webhook attempt',
  );
}

async function attempt(
  ctx: AppContext,
  d: { id: string; payload: Record<string, unknown>; url: string; secret: string },
): Promise<SendResult> {
  const cfg = ctx.config.webhooks;
  let target: Awaited<ReturnType<typeof resolveWebhookTarget>>;
  try {
    target = await resolveWebhookTarget(d.url, {
      allowPrivate: cfg.allowPrivate,
      timeoutMs: cfg.timeoutSeconds * 1000,
    });
  } catch (err) {
    if (!isAppError(err)) throw err;
    return { statusCode: null, ok: false, error: `${err.code}: ${err.message}` };
  }
  const body = JSON.stringify(d.payload);
  const msgId = `msg_${d.id}`;
  const now = new Date();
  const signature = new Webhook(d.secret).sign(msgId, now, body);
  return postWebhook(
    target,
    {
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    },
    body,
    cfg.timeoutSeconds * 1000,
  );
}
