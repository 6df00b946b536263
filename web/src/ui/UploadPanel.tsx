import { type DragEvent, useCallback, useRef, useState } from 'react';
import { formatBytes, formatEta } from '../format.ts';
import { appStore, useStore } from '../store.ts';
import { skipDuplicate, uploadAnyway } from '../uploads/duplicates.ts';
import { filesOfDrop, pickWithHandles } from '../uploads/handles.ts';
import { ACTIVE_STATES } from '../uploads/manager.ts';
import { Icon } from './icons.tsx';
import { UploadRowView } from './UploadRow.tsx';
import { useUploads } from './upload-context.tsx';
import { ROW_HEIGHT, useRowWindow } from './windowed.ts';

export function UploadPanel() {
  const m = useUploads();
  const rows = useStore(m.store, (s) => s.rows);
  const offline = useStore(m.store, (s) => s.offline);
  const input = useRef<HTMLInputElement>(null);
  // One picker for the rows: it asks for the file of one interrupted upload, checked against it.
  const rowInput = useRef<HTMLInputElement>(null);
  const pickingFor = useRef<string | null>(null);
  const [over, setOver] = useState(false);
  const limits = useStore(appStore, (s) => s.me?.limits);
  const accept = ['video/*', ...(limits?.acceptedExtensions ?? []).map((e) => `.${e}`)].join(',');
  const maxSize = limits ? formatBytes(limits.maxFileBytes) : undefined;

  // Held duplicates are not counted until the person decides to send them.
  const counted = rows.filter((r) => !['refused', 'canceled', 'duplicate'].includes(r.state));
  const done = counted.filter((r) => r.state === 'complete').length;
  const active = rows.filter((r) => ACTIVE_STATES.includes(r.state));
  const waitingForNet = rows.filter((r) => r.state === 'offline');
  const speed = rows.reduce((a, r) => a + (r.state === 'uploading' ? r.speed : 0), 0);
  const left = active.reduce((a, r) => a + (r.size - r.bytesSent), 0);
  const eta = speed > 0 ? left / speed : null;
  const awaiting = rows.filter((r) => r.state === 'awaiting_file');
  const elsewhere = rows.filter((r) => r.state === 'elsewhere');
  const duplicates = rows.filter((r) => r.state === 'duplicate');

  // A long list renders only the rows near the viewport (1,000 rows stay smooth).
  const listRef = useRef<HTMLUListElement>(null);
  const win = useRowWindow(listRef, rows.length);
  // Stable, so a row re-renders only when its own row object changes (1,000 rows stay smooth).
  const pickFor = useCallback((key: string) => {
    pickingFor.current = key;
    rowInput.current?.click();
  }, []);

  // The browser's file picker with handles where it has one (a reload can then continue without
  // a pick); the plain input elsewhere.
  const choose = async () => {
    const picked = await pickWithHandles(limits?.acceptedExtensions ?? []);
    if (picked) void m.addFiles(picked);
    else input.current?.click();
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    // Dropped files come with handles where the browser gives them: a reload can read them again.
    void filesOfDrop(e.dataTransfer).then((files) => m.addFiles(files));
  };

  return (
    <section className="card upload-panel" aria-labelledby="upload-title">
      <div className="card-head">
        <h2 id="upload-title">Upload videos</h2>
        {counted.length > 0 && (
          <div className="overall" aria-live="polite">
            <strong data-testid="overall-count">
              {done} of {counted.length} complete
            </strong>
            {active.length > 0 && eta !== null && <span className="muted"> · {formatEta(eta)}</span>}
          </div>
        )}
      </div>

      {(offline || waitingForNet.length > 0) && active.length > 0 && (
        <div className="banner warn" role="status" data-testid="offline-banner">
          <Icon name="wifiOff" />
          <span>Connection lost — uploads will resume automatically.</span>
          <span className="spacer" />
          <button type="button" className="btn small" onClick={() => m.retryNow()}>
            Retry now
          </button>
          {waitingForNet[0] && (
            <button type="button" className="btn small ghost" onClick={() => m.skip(waitingForNet[0]!.key)}>
              Skip file
            </button>
          )}
        </div>
      )}

      {awaiting.length > 0 && (
        <div className="banner info" role="status">
          <Icon name="clock" />
          <span>
            {awaiting.length === 1 ? '1 upload was' : `${awaiting.length} uploads were`} interrupted. Choose
            the same file{awaiting.length === 1 ? '' : 's'} again to continue where{' '}
            {awaiting.length === 1 ? 'it' : 'they'} stopped.
          </span>
        </div>
      )}

      {duplicates.length > 0 && (
        <div className="banner warn" role="status" data-testid="duplicates-banner">
          <Icon name="alert" />
          <span>
            {duplicates.length === 1 ? '1 file was' : `${duplicates.length} files were`} uploaded before.
            Nothing of {duplicates.length === 1 ? 'it' : 'them'} is sent until you choose.
          </span>
          <span className="spacer" />
          <button
            type="button"
            className="btn small"
            onClick={() => {
              for (const r of duplicates) uploadAnyway(m, r.key);
            }}
          >
            Upload all anyway
          </button>
          <button
            type="button"
            className="btn small ghost"
            onClick={() => {
              for (const r of duplicates) skipDuplicate(m, r.key);
            }}
          >
            Skip all
          </button>
        </div>
      )}

      {elsewhere.length > 0 && (
        <div className="banner info" role="status" data-testid="elsewhere-banner">
          <Icon name="upload" />
          <span>
            {elsewhere.length === 1 ? '1 upload is' : `${elsewhere.length} uploads are`} running in another
            tab of this browser. Pause or cancel {elsewhere.length === 1 ? 'it' : 'them'} there.
          </span>
        </div>
      )}

      {/* biome-ignore lint/a11y/noStaticElementInteractions: a drop target only; keyboard users press "choose files" inside it. */}
      <div
        className={over ? 'dropzone over' : 'dropzone'}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <Icon name="upload" size={28} />
        <p>
          <strong>Drop videos here</strong> or{' '}
          <button type="button" className="linklike" onClick={() => void choose()}>
            choose files
          </button>
        </p>
        <p className="muted small">
          MP4, MOV, WebM, MKV, AVI and more{maxSize ? ` · up to ${maxSize} each` : ''} · converted on our
          servers
        </p>
        <input
          ref={input}
          type="file"
          multiple
          accept={accept}
          className="sr-only"
          aria-label="Choose video files"
          data-testid="file-input"
          onChange={(e) => {
            void m.addFiles([...(e.target.files ?? [])]);
            e.target.value = '';
          }}
        />
        <input
          ref={rowInput}
          type="file"
          accept={accept}
          className="sr-only"
          tabIndex={-1}
          aria-hidden="true"
          data-testid="row-file-input"
          onChange={(e) => {
            const file = e.target.files?.[0];
            const key = pickingFor.current;
            pickingFor.current = null;
            e.target.value = '';
            if (file && key) void m.pickFor(key, file);
          }}
        />
      </div>

      {rows.length > 0 && (
        <>
          <div className="toolbar">
            <button
              type="button"
              className="btn small"
              onClick={() => m.pauseAll()}
              disabled={!active.length}
            >
              <Icon name="pause" size={14} /> Pause all
            </button>
            <button
              type="button"
              className="btn small"
              onClick={() => m.resumeAll()}
              disabled={!rows.some((r) => r.state === 'paused')}
            >
              <Icon name="play" size={14} /> Resume all
            </button>
            <button
              type="button"
              className="btn small danger-ghost"
              onClick={() => m.cancelRemaining()}
              disabled={!active.length && !awaiting.length}
            >
              <Icon name="x" size={14} /> Cancel remaining
            </button>
            <span className="spacer" />
            <button type="button" className="btn small ghost" onClick={() => m.clearFinished()}>
              Clear finished
            </button>
          </div>
          <ul
            ref={listRef}
            className={win.windowed ? 'upload-rows windowed' : 'upload-rows'}
            aria-label="Files"
            style={win.windowed ? { height: rows.length * ROW_HEIGHT } : undefined}
          >
            {rows.slice(win.start, win.end).map((r, i) => (
              <UploadRowView
                key={r.key}
                row={r}
                onPick={pickFor}
                at={win.windowed ? { index: win.start + i, of: rows.length } : undefined}
              />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
