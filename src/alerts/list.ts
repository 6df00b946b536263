import type { Selectable } from 'kysely';
import type { Db } from '../db/database.ts';
import type { AlertsTable } from '../db/types.ts';

/** An alert as the admin API and ALERT_WEBHOOK_URL show it. */
export interface AlertView {
  id: string;
  rule: AlertsTable['rule'];
  subject: string;
  state: 'firing' | 'resolved';
  summary: string;
  details: Record<string, unknown>;
  firstFiredAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
  notifiedFiringAt: string | null;
  notifiedResolvedAt: string | null;
  lastNotifyError: string | null;
}

export function toAlertView(r: Selectable<AlertsTable>): AlertView {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: r.id,
    rule: r.rule,
    subject: r.subject,
    state: r.state,
    summary: r.summary,
    details: r.details,
    firstFiredAt: r.first_fired_at.toISOString(),
    lastSeenAt: r.last_seen_at.toISOString(),
    resolvedAt: iso(r.resolved_at),
    notifiedFiringAt: iso(r.notified_firing_at),
    notifiedResolvedAt: iso(r.notified_resolved_at),
    lastNotifyError: r.last_notify_error,
  };
}

/** Firing alerts (all of them) and the most recent history (resolved ones, newest first). */
export async function listAlerts(
  db: Db,
  historyLimit: number,
): Promise<{ firing: AlertView[]; history: AlertView[] }> {
  const [firing, history] = await Promise.all([
    db
      .selectFrom('alerts')
      .selectAll()
      .where('state', '=', 'firing')
      .orderBy('first_fired_at', 'desc')
      .execute(),
    db
      .selectFrom('alerts')
      .selectAll()
      .where('state', '=', 'resolved')
      .orderBy('resolved_at', 'desc')
      .limit(historyLimit)
      .execute(),
  ]);
  return { firing: firing.map(toAlertView), history: history.map(toAlertView) };
}
