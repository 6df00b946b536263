import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { AppContext } from '../context.ts';
import { isAppError } from '../errors.ts';
import { resolveWebhookTarget } from '../webhooks/address-policy.ts';
import { postWebhook } from '../webhooks/http-send.ts';
import type { AlertEvent } from './evaluate.ts';
import { type AlertView, toAlertView } from './list.ts';

/** What ALERT_WEBHOOK_URL receives: the event and the alert as GET /api/admin/alerts shows it. */
export interface AlertMessage {
  type: `alert.${AlertEvent}`;
  timestamp: string;
  alert: AlertView;
}

/**
 * Sends one alert event to ALERT_WEBHOOK_URL (the `send_alert` job). Throws when the receiver
 * does not accept it, so graphile-worker retries the job. The URL goes through the webhooks'
 * address policy (private addresses need WEBHOOK_ALLOW_PRIVATE=true) and SSRF-safe sender; with
 * ALERT_WEBHOOK_SECRET the post is signed per Standard Webhooks, and `webhook-id` is the same on
 * every attempt so a receiver can drop duplicates.
 */
export async function sendAlert(ctx: AppContext, alertId: string, event: AlertEvent): Promise<void> {
  const cfg = ctx.config.alerts;
  if (!cfg.webhookUrl) return;
  const row = await ctx.db.selectFrom('alerts').selectAll().where('id', '=', alertId).executeTakeFirst();
  if (!row) return;
  const message: AlertMessage = {
    type: `alert.${event}`,
    timestamp: new Date().toISOString(),
    alert: toAlertView(row),
  };
  const body = JSON.stringify(message);
  const msgId = `alert_${alertId}_${event}`;
  const now = new Date();
  const headers: Record<string, string> = {
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
  };
  if (cfg.webhookSecret) headers['webhook-signature'] = new Webhook(cfg.webhookSecret).sign(msgId, now, body);

  const timeoutMs = ctx.config.webhooks.timeoutSeconds * 1000;
  let error: string | null;
  try {
    const target = await resolveWebhookTarget(cfg.webhookUrl, {
      allowPrivate: ctx.config.webhooks.allowPrivate,
      timeoutMs,
    });
    error = (await postWebhook(target, headers, body, timeoutMs)).error;
  } catch (err) {
    if (!isAppError(err)) throw err;
    error = `${err.code}: ${err.message}`;
  }
  const column = event === 'firing' ? 'notified_firing_at' : 'notified_resolved_at';
  await ctx.db
    .updateTable('alerts')
    .set(error === null ? { [column]: sql`now()`, last_notify_error: null } : { last_notify_error: error })
    .where('id', '=', alertId)
    .execute();
  if (error !== null) throw new Error(`alert ${event} not accepted by ALERT_WEBHOOK_URL: ${error}`);
}
