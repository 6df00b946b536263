import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { enqueue } from '../jobs/queue.ts';
import { type AlertRule, type Finding, RULES } from './rules.ts';

export type AlertEvent = 'firing' | 'resolved';

/** Resolved alerts are listed this long, then pruned by the evaluation. */
export const HISTORY_DAYS = 90;

export interface EvaluationReport {
  fired: string[];
  resolved: string[];
  stillFiring: string[];
  /** Rules that could not be evaluated this time (their alerts are left as they were). */
  errors: Array<{ rule: AlertRule; error: string }>;
}

/** The notification job of one alert event: at most one per alert and event. */
export const alertJobKey = (alertId: string, event: AlertEvent) => `send_alert:${alertId}:${event}`;

/**
 * Evaluates every rule and reconciles the `alerts` table with the findings (the
 * `evaluate_alerts` cron task, and on demand). Invariants:
 * - One evaluation at a time (transaction-scoped advisory lock), and at most one firing row per
 *   rule and subject (unique index): a finding already firing only refreshes `last_seen_at`.
 * - A new firing row and a resolution each enqueue their notification in the same transaction:
 *   an alert is announced once when it starts and once when it resolves, never every minute,
 *   and never lost to a crash between the change and its job.
 * - A rule that throws (storage unreachable, ...) neither fires nor resolves its alerts.
 */
export async function evaluateAlerts(ctx: AppContext): Promise<EvaluationReport> {
  const report: EvaluationReport = { fired: [], resolved: [], stillFiring: [], errors: [] };
  const notify = ctx.config.alerts.webhookUrl !== undefined;

  await ctx.db.transaction().execute(async (tx) => {
    // Taken before the rules run, so evaluations are serialised whole (a slower one cannot commit
    // findings older than another's). The rules query on this transaction's connection: waiting
    // for another pool connection while holding the lock could deadlock a small pool.
    await sql`SELECT pg_advisory_xact_lock(hashtext('clipdock:evaluate_alerts'))`.execute(tx);
    const inTx: AppContext = { ...ctx, db: tx };
    const findings: Finding[] = [];
    const evaluated: AlertRule[] = [];
    for (const [rule, evaluate] of Object.entries(RULES) as Array<[AlertRule, (typeof RULES)[AlertRule]]>) {
      // A failing rule's SQL must not abort the transaction the others share.
      await sql`SAVEPOINT alert_rule`.execute(tx);
      try {
        findings.push(...(await evaluate(inTx)));
        evaluated.push(rule);
        await sql`RELEASE SAVEPOINT alert_rule`.execute(tx);
      } catch (err) {
        await sql`ROLLBACK TO SAVEPOINT alert_rule`.execute(tx);
        report.errors.push({ rule, error: err instanceof Error ? err.message : String(err) });
      }
    }
    const firing = await tx
      .selectFrom('alerts')
      .select(['id', 'rule', 'subject'])
      .where('state', '=', 'firing')
      .execute();
    const open = new Map(firing.map((a) => [`${a.rule}\u0000${a.subject}`, a.id]));
    for (const f of findings) {
      const key = `${f.rule}\u0000${f.subject}`;
      const id = open.get(key);
      if (id) {
        open.delete(key);
        await tx
          .updateTable('alerts')
          .set({ last_seen_at: sql`now()`, summary: f.summary, details: JSON.stringify(f.details) })
          .where('id', '=', id)
          .execute();
        report.stillFiring.push(id);
        continue;
      }
      const row = await tx
        .insertInto('alerts')
        .values({ rule: f.rule, subject: f.subject, summary: f.summary, details: JSON.stringify(f.details) })
        .returning('id')
        .executeTakeFirstOrThrow();
      report.fired.push(row.id);
      if (notify) await enqueueNotification(tx, row.id, 'firing');
    }
    // History is kept HISTORY_DAYS: older resolved episodes are dropped.
    await tx
      .deleteFrom('alerts')
      .where('state', '=', 'resolved')
      .where('resolved_at', '<', sql<Date>`now() - make_interval(days => ${HISTORY_DAYS})`)
      .execute();
    for (const [key, id] of open) {
      const rule = key.split('\u0000')[0] as AlertRule;
      if (!evaluated.includes(rule)) continue;
      await tx
        .updateTable('alerts')
        .set({ state: 'resolved', resolved_at: sql`now()` })
        .where('id', '=', id)
        .execute();
      report.resolved.push(id);
      if (notify) await enqueueNotification(tx, id, 'resolved');
    }
  });
  if (report.fired.length + report.resolved.length > 0) {
    ctx.log.warn({ fired: report.fired, resolved: report.resolved }, 'alerts changed');
  }
  return report;
}

function enqueueNotification(tx: Parameters<typeof enqueue>[0], alertId: string, event: AlertEvent) {
  // After processing jobs, like webhook deliveries; graphile-worker retries a failed send with
  // its exponential backoff (about 3 hours over 12 attempts).
  return enqueue(
    tx,
    'send_alert',
    { alertId, event },
    { jobKey: alertJobKey(alertId, event), maxAttempts: 12, priority: 10 },
  );
}
