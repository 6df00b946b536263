import { useMemo, useState } from 'react';
import { Api, ApiError, type Video } from '../api.ts';
import { durationOf, useVideoDetail } from '../details.ts';
import { formatDuration, helpFor, STEP_WORDS, statusWords } from '../format.ts';
import { refreshMe } from '../session.ts';
import { appStore, forgetVideo, mergeVideos, useStore } from '../store.ts';
import { addToTimeline, timelineStore } from '../timeline.ts';
import { Icon } from './icons.tsx';
import { Player } from './Player.tsx';
import { Poster } from './Poster.tsx';
import { UploadPanel } from './UploadPanel.tsx';

/** Kept for imports written before Poster had its own file. */
export { Poster } from './Poster.tsx';

const byNewest = (a: Video, b: Video) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '');

export function Dashboard() {
  const videos = useStore(appStore, (s) => s.videos);
  const projectId = useStore(appStore, (s) => s.projectId);
  const [preview, setPreview] = useState<string | null>(null);

  const groups = useMemo(() => {
    const mine = Object.values(videos)
      .filter((v) => !v.projectId || v.projectId === projectId)
      .sort(byNewest);
    return {
      processing: mine.filter((v) => v.status === 'uploaded' || v.status === 'processing'),
      ready: mine.filter((v) => v.status === 'ready'),
      failed: mine.filter((v) => v.status === 'failed' || v.status === 'upload_expired'),
    };
  }, [videos, projectId]);
  const previewed = preview ? videos[preview] : undefined;

  return (
    <div className="dashboard">
      <UploadPanel />
      {previewed && (
        <section className="card preview-pane" aria-label={`Preview of ${previewed.name}`}>
          <div className="card-head">
            <h2>{previewed.name}</h2>
            <button type="button" className="btn ghost small" onClick={() => setPreview(null)}>
              <Icon name="x" size={14} /> Close preview
            </button>
          </div>
          <Player video={previewed} />
        </section>
      )}
      <div className="status-board">
        <section className="card" aria-labelledby="processing-title" data-testid="processing-section">
          <h2 id="processing-title">
            Currently processing <span className="count">{groups.processing.length}</span>
          </h2>
          {groups.processing.length === 0 ? (
            <p className="empty muted">
              Nothing is processing. Upload videos above and they will appear here.
            </p>
          ) : (
            <ul className="video-list">
              {groups.processing.map((v) => (
                <ProcessingItem key={v.id} video={v} />
              ))}
            </ul>
          )}
        </section>
        <section className="card" aria-labelledby="ready-title" data-testid="ready-section">
          <h2 id="ready-title">
            Ready <span className="count ok">{groups.ready.length}</span>
          </h2>
          {groups.ready.length === 0 ? (
            <p className="empty muted">Finished videos stay here, ready to preview or add to the timeline.</p>
          ) : (
            <ul className="video-list">
              {groups.ready.map((v) => (
                <ReadyItem key={v.id} video={v} onPreview={() => setPreview(v.id)} />
              ))}
            </ul>
          )}
        </section>
        {groups.failed.length > 0 && (
          <section className="card" aria-labelledby="failed-title" data-testid="failed-section">
            <h2 id="failed-title">
              Failed <span className="count bad">{groups.failed.length}</span>
            </h2>
            <ul className="video-list">
              {groups.failed.map((v) => (
                <FailedItem key={v.id} video={v} />
              ))}
            </ul>
          </section>
        )}
      </div>
    </div>
  );
}

/** The steps to `ready` (playable); analysis and transcript follow on the ready video. */
const PIPELINE = ['probe', 'normalize', 'poster', 'analyze', 'transcribe'];

function ProcessingItem({ video }: { video: Video }) {
  const [open, setOpen] = useState(false);
  // `uploaded` is queued for processing: its progress is the finished upload's 100 %, not this bar's.
  const progress = video.status === 'processing' ? Math.round(video.progress ?? 0) : 0;
  const current = video.step ? PIPELINE.indexOf(video.step) : -1;
  const transcriptionOff = useStore(appStore, (s) => s.me?.features?.transcription === false);
  return (
    <li className="video-item" data-testid="video-item" data-name={video.name} data-status={video.status}>
      <button
        type="button"
        className="video-item-main"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        title="Show live status"
      >
        <span className="thumb placeholder">
          <Icon name="spinner" spin />
        </span>
        <span className="video-text">
          <span className="filename">{video.name}</span>
          <span className="small step" data-testid="step-words">
            {statusWords(video)} {video.status === 'processing' && <span className="muted">{progress}%</span>}
          </span>
          <span
            className="bar thin"
            role="progressbar"
            aria-label={`Processing of ${video.name}`}
            aria-valuenow={progress}
          >
            <span className="fill tone-info" style={{ width: `${progress}%` }} />
          </span>
        </span>
      </button>
      {open && (
        <ol className="steps small" aria-label="Processing steps" aria-live="polite">
          {PIPELINE.map((s, i) =>
            s === 'transcribe' && transcriptionOff ? (
              <li key={s} className="todo" data-testid="step-skipped">
                <Icon name="skip" size={14} />
                Transcription: skipped (off on this server)
              </li>
            ) : (
              <li key={s} className={i < current ? 'done' : i === current ? 'now' : 'todo'}>
                <Icon
                  name={i < current ? 'check' : i === current ? 'spinner' : 'clock'}
                  size={14}
                  spin={i === current}
                />
                {STEP_WORDS[s]}
                {i === current && <span className="muted"> {progress}%</span>}
              </li>
            ),
          )}
        </ol>
      )}
    </li>
  );
}

function ReadyItem({ video, onPreview }: { video: Video; onPreview: () => void }) {
  useVideoDetail(video);
  const projectId = useStore(appStore, (s) => s.projectId);
  const onTimeline = useStore(timelineStore, (s) => s.items.some((i) => i.videoId === video.id));
  const [adding, setAdding] = useState(false);
  return (
    <li className="video-item" data-testid="video-item" data-name={video.name} data-status={video.status}>
      <div className="video-item-main static">
        <Poster video={video} />
        <span className="video-text">
          <span className="filename">{video.name}</span>
          <span className="small muted">
            <span className="status-pill ok" data-testid="ready-words">
              {statusWords(video)}
            </span>{' '}
            {formatDuration(durationOf(video))}
            {video.analysis?.width ? ` · ${video.analysis.width}×${video.analysis.height}` : ''}
          </span>
        </span>
      </div>
      <div className="item-actions">
        <button type="button" className="btn small" onClick={onPreview} aria-label={`Preview ${video.name}`}>
          <Icon name="play" size={14} /> Preview
        </button>
        <button
          type="button"
          className={onTimeline ? 'btn small' : 'btn small primary'}
          disabled={!projectId || adding || onTimeline}
          aria-label={onTimeline ? `${video.name} is on the timeline` : `Add ${video.name} to timeline`}
          onClick={async () => {
            setAdding(true);
            await addToTimeline(projectId!, video.id, true);
            setAdding(false);
          }}
        >
          <Icon name={onTimeline ? 'check' : 'plus'} size={14} />{' '}
          {onTimeline ? 'On timeline' : 'Add to timeline'}
        </button>
      </div>
    </li>
  );
}

function FailedItem({ video }: { video: Video }) {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const code = video.status === 'upload_expired' ? 'UPLOAD_EXPIRED' : video.error?.code;
  // The server says whether running it again could help; when it cannot, the way out is Delete.
  const retryable = video.error?.retryable !== false;
  const act = async (what: () => Promise<void>, failed: string) => {
    setBusy(true);
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : failed);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li
      className="video-item failed"
      data-testid="video-item"
      data-name={video.name}
      data-status={video.status}
    >
      <div className="video-item-main static">
        <span className="thumb placeholder bad">
          <Icon name="alert" />
        </span>
        <span className="video-text">
          <span className="filename">{video.name}</span>
          <span className="small reason" data-testid="failure-reason">
            {video.error?.message || 'Processing failed.'}
          </span>
          <span className="small muted help">{helpFor(code, retryable)}</span>
          {error && <span className="small form-error">{error}</span>}
        </span>
      </div>
      {video.status === 'failed' && retryable && (
        <div className="item-actions">
          <button
            type="button"
            className="btn small"
            disabled={busy}
            aria-label={`Retry ${video.name}`}
            onClick={() =>
              act(async () => {
                await Api.retryVideo(video.id);
                // The socket brings the new state; this shows it at once.
                mergeVideos([{ id: video.id, status: 'processing', step: null, progress: 0, error: null }]);
              }, 'Retry did not start.')
            }
          >
            <Icon name="retry" size={14} /> Retry
          </button>
        </div>
      )}
      {/* Every failed card can be removed; Retry is offered only where running it again could help. */}
      {(video.status === 'failed' || video.status === 'upload_expired') && (
        <div className="item-actions">
          {confirming ? (
            <fieldset className="confirm" aria-label={`Confirm delete of ${video.name}`}>
              <button
                type="button"
                className="btn small danger"
                disabled={busy}
                onClick={() =>
                  act(async () => {
                    await Api.deleteVideo(video.id);
                    forgetVideo(video.id);
                    void refreshMe();
                  }, 'Could not delete.')
                }
              >
                Delete
              </button>
              <button type="button" className="btn small ghost" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </fieldset>
          ) : (
            <button
              type="button"
              className="btn small danger-ghost"
              aria-label={`Delete ${video.name}`}
              onClick={() => setConfirming(true)}
            >
              <Icon name="trash" size={14} /> Delete
            </button>
          )}
        </div>
      )}
    </li>
  );
}
