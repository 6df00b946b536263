import { useCallback, useEffect, useState } from 'react';
import { AdminApi, type CleanupRun, type StorageAuditRow, type StorageTotals } from '../admin-api.ts';
import { ApiError } from '../api.ts';
import { formatBytes } from '../format.ts';
import './admin.css';
import { AdminAlerts } from './AdminAlerts.tsx';
import { AdminAnalytics } from './AdminAnalytics.tsx';

const messageOf = (err: unknown, fallback: string) => (err instanceof ApiError ? err.message : fallback);
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** The administrators' page: alerts, upload analytics, cleanup runs (with "Dry run" and "Run now") and the storage audit. */
export function Admin() {
  return (
    <div className="admin">
      <AdminAlerts />
      <AdminAnalytics />
      <CleanupRuns />
      <StorageAudit />
    </div>
  );
}

const CHECK_LABELS: Record<string, string> = {
  expired_uploads: 'Expired upload',
  stalled_processing: 'Stalled processing',
  never_queued: 'Never queued',
  missing_originals: 'Missing original',
  orphaned_objects: 'Orphaned objects',
  orphaned_partials: 'Abandoned partial upload',
  failed_deletes: 'Failed delete',
};
const OUTCOME_LABELS: Record<string, string> = {
  repaired: 'repaired',
  would_repair: 'would repair',
  skipped: 'left alone',
  error: 'error',
};

function CleanupRuns() {
  const [runs, setRuns] = useState<CleanupRun[] | null>(null);
  const [busy, setBusy] = useState<'dry' | 'live' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const reload = useCallback(
    () =>
      AdminApi.cleanupRuns()
        .then((r) => setRuns(r.runs))
        .catch((err: unknown) => setError(messageOf(err, 'Could not load the cleanup runs.'))),
    [],
  );
  useEffect(() => {
    void reload();
  }, [reload]);

  const run = async (dryRun: boolean) => {
    setBusy(dryRun ? 'dry' : 'live');
    setError(null);
    try {
      const { run: r } = await AdminApi.runCleanup(dryRun);
      setOpen(r.id);
      await reload();
    } catch (err) {
      setError(messageOf(err, 'The cleanup run failed.'));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="card" aria-labelledby="cleanup-title" data-testid="cleanup-runs">
      <div className="card-head">
        <h2 id="cleanup-title">Cleanup runs</h2>
        <div className="admin-actions">
          <button type="button" className="btn" disabled={busy !== null} onClick={() => void run(true)}>
            {busy === 'dry' ? 'Checking…' : 'Dry run'}
          </button>
          <button
            type="button"
            className="btn primary"
            disabled={busy !== null}
            onClick={() => void run(false)}
          >
            {busy === 'live' ? 'Repairing…' : 'Run now'}
          </button>
        </div>
      </div>
      <p className="muted small">
        Finds expired uploads, stalled processing, videos never queued, missing originals, orphaned stored
        files and failed deletes. A dry run only reports what a run would repair.
      </p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {runs?.length === 0 && <p className="empty muted">No cleanup has run yet.</p>}
      {runs && runs.length > 0 && (
        <table className="admin-table">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Type</th>
              <th scope="col">By</th>
              <th scope="col" className="num">
                Examined
              </th>
              <th scope="col" className="num">
                Repaired
              </th>
              <th scope="col" className="num">
                Errors
              </th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <RunRows
                key={r.id}
                run={r}
                open={open === r.id}
                onToggle={() => setOpen(open === r.id ? null : r.id)}
              />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RunRows({ run, open, onToggle }: { run: CleanupRun; open: boolean; onToggle: () => void }) {
  const wouldRepair = run.details.filter((d) => d.outcome === 'would_repair').length;
  return (
    <>
      <tr data-testid="cleanup-run" data-type={run.type}>
        <td>{when(run.startedAt)}</td>
        <td>{run.dryRun ? 'Dry run' : 'Repair'}</td>
        <td>{run.trigger}</td>
        <td className="num">{run.examined}</td>
        <td className="num" data-testid="run-repaired">
          {run.dryRun ? `(${wouldRepair})` : run.repaired}
        </td>
        <td className={run.errors > 0 ? 'num bad' : 'num'}>{run.errors}</td>
        <td>
          {run.details.length > 0 ? (
            <button type="button" className="btn ghost small" aria-expanded={open} onClick={onToggle}>
              {open ? 'Hide' : `${run.details.length} item${run.details.length === 1 ? '' : 's'}`}
            </button>
          ) : (
            <span className="muted">nothing to do</span>
          )}
        </td>
      </tr>
      {open && (
        <tr className="run-details">
          <td colSpan={7}>
            <ul>
              {run.details.map((d) => (
                <li key={`${d.check}:${d.target}`} data-testid="cleanup-item" data-outcome={d.outcome}>
                  <strong>{CHECK_LABELS[d.check] ?? d.check}</strong> <code>{d.target}</code>: {d.reason} →{' '}
                  {d.action} <span className={`outcome ${d.outcome}`}>{OUTCOME_LABELS[d.outcome]}</span>
                  {d.bytes ? <span className="muted"> · {formatBytes(d.bytes)}</span> : null}
                  {d.credits ? <span className="muted"> · {d.credits} credits</span> : null}
                  {d.error ? <span className="bad"> · {d.error}</span> : null}
                </li>
              ))}
            </ul>
          </td>
        </tr>
      )}
    </>
  );
}

function StorageAudit() {
  const [data, setData] = useState<{ rows: StorageAuditRow[]; totals: StorageTotals } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    AdminApi.storage()
      .then(setData)
      .catch((err: unknown) => setError(messageOf(err, 'Could not load the storage audit.')));
  }, []);
  return (
    <section className="card" aria-labelledby="storage-title" data-testid="storage-audit">
      <h2 id="storage-title">Storage by user and project</h2>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {data?.rows.length === 0 && <p className="empty muted">No videos stored yet.</p>}
      {data && data.rows.length > 0 && (
        <table className="admin-table">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Project</th>
              <th scope="col" className="num">
                Videos
              </th>
              <th scope="col" className="num">
                Originals
              </th>
              <th scope="col" className="num">
                Outputs
              </th>
              <th scope="col" className="num">
                Partial
              </th>
              <th scope="col" className="num">
                Ready
              </th>
              <th scope="col" className="num">
                Failed
              </th>
              <th scope="col" className="num">
                Processing
              </th>
              <th scope="col" className="num">
                Unfinished
              </th>
            </tr>
          </thead>
          <tbody>
            {data.rows.map((r) => (
              <tr key={r.projectId} data-testid="storage-row">
                <td>{r.email}</td>
                <td>{r.projectName}</td>
                <Counts row={r} />
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={2}>
                All
              </th>
              <Counts row={data.totals} />
            </tr>
          </tfoot>
        </table>
      )}
    </section>
  );
}

function Counts({ row }: { row: StorageTotals }) {
  return (
    <>
      <td className="num">{row.videos}</td>
      <td className="num">{formatBytes(row.originalBytes)}</td>
      <td className="num">{formatBytes(row.outputBytes)}</td>
      <td className="num">{formatBytes(row.partialBytes)}</td>
      <td className="num">{row.ready}</td>
      <td className="num">{row.failed}</td>
      <td className="num">{row.processing}</td>
      <td className="num">{row.unfinished}</td>
    </>
  );
}
