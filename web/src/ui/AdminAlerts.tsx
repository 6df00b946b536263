import { useCallback, useEffect, useState } from 'react';
import { AdminInsightsApi, type Alert, type AlertListing } from '../admin-api.ts';
import { ApiError } from '../api.ts';

const RULE_LABELS: Record<Alert['rule'], string> = {
  failure_rate: 'Failure rate',
  queue_age: 'Queue waiting',
  video_stuck: 'Stuck videos',
  quota: 'Quota nearly full',
  disk_low: 'Disk space low',
};
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** Alerts: the firing ones and their history; "Check now" evaluates the rules at once. */
export function AdminAlerts() {
  const [data, setData] = useState<AlertListing | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async (evaluate: boolean) => {
    setError(null);
    setBusy(evaluate);
    try {
      setData(await (evaluate ? AdminInsightsApi.evaluateAlerts() : AdminInsightsApi.alerts()));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not load the alerts.');
    } finally {
      setBusy(false);
    }
  }, []);
  useEffect(() => {
    void load(false);
  }, [load]);

  return (
    <section className="card" aria-labelledby="alerts-title" data-testid="alerts">
      <div className="card-head">
        <h2 id="alerts-title">Alerts</h2>
        <button type="button" className="btn" disabled={busy} onClick={() => void load(true)}>
          {busy ? 'Checking…' : 'Check now'}
        </button>
      </div>
      <p className="muted small">Rules are checked every minute by a worker.</p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {data && data.firing.length === 0 && (
        <p className="empty muted" data-testid="no-alerts">
          Nothing is firing.
        </p>
      )}
      {data && data.firing.length > 0 && <AlertTable alerts={data.firing} testId="alerts-firing" />}
      {data && data.history.length > 0 && (
        <>
          <h3 className="small">History</h3>
          <AlertTable alerts={data.history} testId="alerts-history" />
        </>
      )}
    </section>
  );
}

function AlertTable({ alerts, testId }: { alerts: Alert[]; testId: string }) {
  return (
    <table className="admin-table" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">Rule</th>
          <th scope="col">What</th>
          <th scope="col">Since</th>
          <th scope="col">Last seen</th>
          <th scope="col">Resolved</th>
          <th scope="col">Sent</th>
        </tr>
      </thead>
      <tbody>
        {alerts.map((a) => (
          <tr key={a.id} data-testid="alert" data-rule={a.rule} data-state={a.state}>
            <td>
              <span className={a.state === 'firing' ? 'outcome error' : 'outcome repaired'}>
                {RULE_LABELS[a.rule] ?? a.rule}
              </span>
            </td>
            <td>{a.summary}</td>
            <td>{when(a.firstFiredAt)}</td>
            <td>{when(a.lastSeenAt)}</td>
            <td>{when(a.resolvedAt)}</td>
            <td>
              {a.lastNotifyError ? (
                <span className="bad" title={a.lastNotifyError}>
                  failed, retrying
                </span>
              ) : a.notifiedFiringAt ? (
                'yes'
              ) : (
                <span className="muted">—</span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
