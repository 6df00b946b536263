import { useEffect, useState } from 'react';
import { AdminInsightsApi, type UploadAnalytics } from '../admin-api.ts';
import { ApiError } from '../api.ts';
import { formatBytes, formatDuration } from '../format.ts';
import { BarList, DayChart } from './charts.tsx';

const PERIODS = [7, 30, 90] as const;
const speed = (bps: number | null) => (bps === null ? '—' : `${formatBytes(Math.round(bps))}/s`);
const percent = (r: number) => `${(r * 100).toFixed(1)} %`;
const seconds = (s: number) => (s < 60 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : formatDuration(s));

/** Upload analytics: speed percentiles, failures by code, uploads and processing time per day. */
export function AdminAnalytics() {
  const [days, setDays] = useState<number>(30);
  const [data, setData] = useState<UploadAnalytics | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setError(null);
    AdminInsightsApi.analytics(days)
      .then(setData)
      .catch((err: unknown) =>
        setError(err instanceof ApiError ? err.message : 'Could not load the upload analytics.'),
      );
  }, [days]);

  const labels = data?.perDay.map((d) => d.day) ?? [];
  return (
    <section className="card" aria-labelledby="analytics-title" data-testid="analytics">
      <div className="card-head">
        <h2 id="analytics-title">Upload analytics</h2>
        <fieldset className="admin-actions period" aria-label="Period">
          {PERIODS.map((p) => (
            <button
              key={p}
              type="button"
              className={p === days ? 'btn primary small' : 'btn small'}
              aria-pressed={p === days}
              onClick={() => setDays(p)}
            >
              {p} days
            </button>
          ))}
        </fieldset>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {data && (
        <>
          <dl className="stats">
            <div>
              <dt>Uploads</dt>
              <dd data-testid="stat-uploads">{data.uploads.count}</dd>
            </div>
            <div>
              <dt>Speed p50</dt>
              <dd data-testid="stat-p50">{speed(data.uploads.speedP50)}</dd>
            </div>
            <div>
              <dt>Speed p95</dt>
              <dd data-testid="stat-p95">{speed(data.uploads.speedP95)}</dd>
            </div>
            <div>
              <dt>Failure rate</dt>
              <dd data-testid="stat-failure-rate">
                {percent(data.failures.rate)}{' '}
                <span className="muted small">
                  ({data.failures.failed} of {data.failures.finished})
                </span>
              </dd>
            </div>
            <div>
              <dt>Uploaded</dt>
              <dd>{formatBytes(data.uploads.totalBytes)}</dd>
            </div>
          </dl>
          <DayChart
            title="Uploads per day"
            testId="chart-uploads"
            labels={labels}
            bars={{ label: 'uploads', values: data.perDay.map((d) => d.uploads), className: 'series-a' }}
            format={(v) => String(Math.round(v))}
          />
          <DayChart
            title="Processing time per day"
            testId="chart-processing"
            labels={labels}
            bars={{
              label: 'p50',
              values: data.perDay.map((d) => d.processingP50Seconds),
              className: 'series-a',
            }}
            line={{
              label: 'p95',
              values: data.perDay.map((d) => d.processingP95Seconds),
              className: 'series-b',
            }}
            format={seconds}
          />
          <h3 className="small">Failures by code</h3>
          {data.failures.byCode.length === 0 ? (
            <p className="empty muted">No failed videos in this period.</p>
          ) : (
            <BarList
              testId="failures-by-code"
              rows={data.failures.byCode.map((f) => ({ label: f.code, value: f.rate, note: `(${f.count})` }))}
              format={percent}
            />
          )}
        </>
      )}
    </section>
  );
}
