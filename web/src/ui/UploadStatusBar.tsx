import { useMemo } from 'react';
import { formatBytes, formatEta } from '../format.ts';
import { useStore } from '../store.ts';
import { summarize } from '../uploads/summary.ts';
import { Icon } from './icons.tsx';
import { useUploads } from './upload-context.tsx';

/**
 * One line on every page while this tab uploads: overall percentage, bytes, speed, time left,
 * and whether everything is paused or waiting for the network. "Show" goes to the upload list.
 */
export function UploadStatusBar({ onShow }: { onShow: () => void }) {
  const m = useUploads();
  const rows = useStore(m.store, (s) => s.rows);
  const browserOffline = useStore(m.store, (s) => s.offline);
  const s = useMemo(() => summarize(rows, browserOffline), [rows, browserOffline]);
  if (!s.running) return null;
  const state = s.offline ? 'offline' : s.paused ? 'paused' : 'uploading';
  return (
    <section
      className={`upload-status state-${state}`}
      aria-label="Upload progress"
      data-testid="upload-status"
      data-state={state}
    >
      <Icon name={s.offline ? 'wifiOff' : s.paused ? 'pause' : 'upload'} size={16} />
      <strong data-testid="upload-status-pct">{s.percent}%</strong>
      <div
        className="bar"
        role="progressbar"
        aria-label="All uploads"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={s.percent}
      >
        <div className="fill tone-info" style={{ width: `${s.percent}%` }} />
      </div>
      <span className="status-figures small">
        <span data-testid="upload-status-bytes">
          {formatBytes(s.bytesSent)} of {formatBytes(s.bytesTotal)}
        </span>
        <span className="muted">
          {s.done} of {s.files} files
        </span>
        {state === 'uploading' && s.speed > 0 && <span>{formatBytes(s.speed)}/s</span>}
        {state === 'uploading' && s.secondsLeft !== null && <span>{formatEta(s.secondsLeft)}</span>}
        {state === 'paused' && <span data-testid="upload-status-note">Paused</span>}
        {state === 'offline' && (
          <span data-testid="upload-status-note">Offline: waiting for the network</span>
        )}
      </span>
      <button type="button" className="btn small ghost" onClick={onShow}>
        Show uploads
      </button>
    </section>
  );
}
