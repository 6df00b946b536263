import { memo } from 'react';
import { formatBytes, formatEta } from '../format.ts';
import { skipDuplicate, uploadAnyway } from '../uploads/duplicates.ts';
import { ACTIVE_STATES, type RowState, type UploadRow } from '../uploads/manager.ts';
import { IconButton } from './IconButton.tsx';
import { Icon, type IconName } from './icons.tsx';
import { useUploads } from './upload-context.tsx';
import { ROW_HEIGHT } from './windowed.ts';

const STATE_ICON: Record<RowState, { icon: IconName; label: string; tone: string; spin?: boolean }> = {
  checking: { icon: 'spinner', label: 'Checking', tone: 'muted', spin: true },
  refused: { icon: 'alert', label: 'Refused', tone: 'bad' },
  queued: { icon: 'clock', label: 'Queued', tone: 'muted' },
  uploading: { icon: 'upload', label: 'Uploading', tone: 'info' },
  retrying: { icon: 'retry', label: 'Retrying', tone: 'warn' },
  paused: { icon: 'pause', label: 'Paused', tone: 'muted' },
  offline: { icon: 'wifiOff', label: 'Waiting for network', tone: 'warn' },
  complete: { icon: 'check', label: 'Uploaded', tone: 'ok' },
  failed: { icon: 'alert', label: 'Failed', tone: 'bad' },
  canceled: { icon: 'x', label: 'Canceled', tone: 'muted' },
  skipped: { icon: 'skip', label: 'Skipped', tone: 'muted' },
  awaiting_file: { icon: 'clock', label: 'Interrupted: choose the file again', tone: 'warn' },
  elsewhere: { icon: 'upload', label: 'Uploading in another tab', tone: 'info' },
  duplicate: { icon: 'alert', label: 'Uploaded before', tone: 'warn' },
};

export const UploadRowView = memo(function UploadRowView({
  row,
  onPick,
  at,
}: {
  row: UploadRow;
  onPick: (key: string) => void;
  /** Its place in a windowed list: positioned there, and announced as "n of N". */
  at?: { index: number; of: number } | undefined;
}) {
  const m = useUploads();
  const pct = row.size ? Math.floor((row.bytesSent / row.size) * 100) : 0;
  // Another tab's upload shows that tab's state (paused, waiting for network, ...) when it is not plain uploading.
  const remote = row.remoteState ? STATE_ICON[row.remoteState] : undefined;
  const st =
    row.state === 'elsewhere' && remote && !['uploading', 'elsewhere'].includes(row.remoteState ?? '')
      ? { ...remote, label: `${remote.label} in another tab` }
      : STATE_ICON[row.state];
  const eta = row.state === 'uploading' && row.speed > 0 ? (row.size - row.bytesSent) / row.speed : null;
  // A queued or held file has sent nothing yet: no bar pretends otherwise.
  const showBar = !['refused', 'canceled', 'checking', 'duplicate'].includes(row.state);
  return (
    <li
      style={at ? { top: at.index * ROW_HEIGHT } : undefined}
      aria-posinset={at ? at.index + 1 : undefined}
      aria-setsize={at?.of}
      className={`upload-row state-${row.state}`}
      data-testid="upload-row"
      data-state={row.state}
      data-name={row.name}
    >
      <span className={`state-icon tone-${st.tone}`}>
        <Icon name={st.icon} label={st.label} spin={st.spin} />
      </span>
      <div className="row-main">
        <div className="row-title">
          <span className="filename" title={row.name}>
            {row.name}
          </span>
          <span className="muted small">{formatBytes(row.size)}</span>
        </div>
        {showBar && (
          <div
            className="bar"
            role="progressbar"
            aria-label={`Upload of ${row.name}`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={pct}
          >
            <div className={`fill tone-${st.tone}`} style={{ width: `${pct}%` }} />
          </div>
        )}
        <div className="row-meta small">
          {row.reason && (
            <span className="reason" data-testid="row-reason">
              {row.reason}
            </span>
          )}
          {/* An interrupted row keeps showing how far the server got, beside why a pick was refused. */}
          {(!row.reason || row.state === 'awaiting_file') && (
            <>
              <span className="pct" data-testid="row-pct">
                {pct}%
              </span>
              <span className="muted">{st.label}</span>
              {row.state === 'uploading' && row.speed > 0 && (
                <span className="muted">{formatBytes(row.speed)}/s</span>
              )}
              {eta !== null && <span className="muted">{formatEta(eta)}</span>}
              {row.state === 'retrying' && <span className="muted">attempt {row.retryAttempt}</span>}
              {row.resumedFrom !== null && row.resumedFrom > 0 && (
                <span className="muted" data-testid="resumed-from">
                  resumed at {formatBytes(row.resumedFrom)}
                </span>
              )}
            </>
          )}
        </div>
      </div>
      <div className="row-actions">
        {(row.state === 'uploading' || row.state === 'retrying' || row.state === 'queued') && (
          <IconButton icon="pause" label={`Pause ${row.name}`} onClick={() => m.pause(row.key)} />
        )}
        {row.state === 'paused' && (
          <IconButton icon="play" label={`Resume ${row.name}`} onClick={() => m.resume(row.key)} />
        )}
        {(row.state === 'failed' || row.state === 'skipped' || row.state === 'offline') && (
          <IconButton icon="retry" label={`Retry ${row.name}`} onClick={() => m.retry(row.key)} />
        )}
        {(row.state === 'offline' || row.state === 'retrying' || row.state === 'failed') && (
          <IconButton icon="skip" label={`Skip ${row.name}`} onClick={() => m.skip(row.key)} />
        )}
        {row.state === 'duplicate' && (
          <>
            <button
              type="button"
              className="btn small"
              onClick={() => uploadAnyway(m, row.key)}
              aria-label={`Upload ${row.name} anyway`}
            >
              Upload anyway
            </button>
            <button
              type="button"
              className="btn small ghost"
              onClick={() => skipDuplicate(m, row.key)}
              aria-label={`Skip ${row.name}`}
            >
              Skip
            </button>
          </>
        )}
        {row.state === 'awaiting_file' && row.reopenable && (
          <button
            type="button"
            className="btn small primary"
            onClick={() => void m.reopen(row.key, true)}
            aria-label={`Continue ${row.name}`}
          >
            Continue
          </button>
        )}
        {row.state === 'awaiting_file' && (
          <button
            type="button"
            className="btn small"
            onClick={() => onPick(row.key)}
            aria-label={`Choose the file for ${row.name}`}
          >
            Choose file
          </button>
        )}
        {(ACTIVE_STATES.includes(row.state) ||
          ['failed', 'skipped', 'awaiting_file'].includes(row.state)) && (
          <IconButton icon="x" label={`Cancel ${row.name}`} onClick={() => void m.cancel(row.key)} />
        )}
      </div>
    </li>
  );
});
