import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { Api, ApiError, type Video } from '../api.ts';
import { durationOf } from '../details.ts';
import { formatBytes, formatDuration, STATUS_WORDS, statusWords } from '../format.ts';
import { refreshMe } from '../session.ts';
import { appStore, forgetVideo, mergeVideos, useStore } from '../store.ts';
import { Icon } from './icons.tsx';
import { Player } from './Player.tsx';
import { Poster } from './Poster.tsx';

const FILTERS = [
  ['', 'All'],
  ['ready', 'Ready'],
  ['uploaded,processing', 'Processing'],
  ['failed,upload_expired', 'Failed'],
  ['pending_upload,uploading', 'Uploading'],
] as const;

const statusTone = (s: Video['status']) =>
  s === 'ready'
    ? 'ok'
    : s === 'failed' || s === 'upload_expired'
      ? 'bad'
      : s === 'canceled'
        ? 'muted'
        : 'info';

export function Library() {
  const projectId = useStore(appStore, (s) => s.projectId);
  const videos = useStore(appStore, (s) => s.videos);
  const [status, setStatus] = useState('');
  const [query, setQuery] = useState('');
  const [q, setQ] = useState('');
  const [ids, setIds] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  /** Bumped on every new filter so answers to an older query are dropped. */
  const generation = useRef(0);

  useEffect(() => {
    const t = setTimeout(() => setQ(query.trim()), 250);
    return () => clearTimeout(t);
  }, [query]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: these are the triggers: a new filter starts paging again.
  useEffect(() => {
    generation.current += 1;
    setIds([]);
    setCursor(null);
    setDone(false);
    setError(null);
  }, [projectId, status, q]);

  const loadMore = useCallback(async () => {
    if (loading || done || !projectId) return;
    const gen = generation.current;
    setLoading(true);
    try {
      const page = await Api.videos({ projectId, status, q, cursor, limit: 24 });
      if (gen !== generation.current) return;
      mergeVideos(page.videos);
      setIds((prev) => [...prev, ...page.videos.map((v) => v.id).filter((id) => !prev.includes(id))]);
      setCursor(page.nextCursor);
      setDone(!page.nextCursor);
    } catch (err) {
      if (gen === generation.current) {
        setError(err instanceof ApiError ? err.message : 'Could not load the library.');
        setDone(true);
      }
    } finally {
      setLoading(false);
    }
  }, [loading, done, projectId, status, q, cursor]);

  // Infinite scroll: load the next page whenever the sentinel below the grid comes into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) void loadMore();
      },
      { rootMargin: '400px' },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [loadMore]);

  const shown = ids.map((id) => videos[id]).filter((v): v is Video => !!v);
  const current = selected ? videos[selected] : undefined;

  return (
    <div className="library">
      <div className="card filters">
        <fieldset className="segmented" aria-label="Filter by status">
          {FILTERS.map(([value, label]) => (
            <button
              key={value}
              type="button"
              className={status === value ? 'on' : ''}
              aria-pressed={status === value}
              onClick={() => setStatus(value)}
            >
              {label}
            </button>
          ))}
        </fieldset>
        <label className="search">
          <Icon name="search" size={16} />
          <input
            type="search"
            placeholder="Search by name"
            aria-label="Search videos by name"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
        </label>
      </div>

      {current && (
        <DetailPane
          key={current.id}
          video={current}
          onClose={() => setSelected(null)}
          onDeleted={() => {
            setIds((prev) => prev.filter((id) => id !== current.id));
            setSelected(null);
          }}
        />
      )}

      <ul className="grid" aria-label="Videos">
        {shown.map((v) => (
          <li key={v.id}>
            <button
              type="button"
              className={selected === v.id ? 'tile selected' : 'tile'}
              onClick={() => setSelected(v.id)}
              aria-label={`${v.name}, ${STATUS_WORDS[v.status]}`}
              data-testid="library-tile"
            >
              <span className="tile-media">
                <Poster video={v} />
                {durationOf(v) !== null && <span className="duration">{formatDuration(durationOf(v))}</span>}
              </span>
              <span className="tile-name" title={v.name}>
                {v.name}
              </span>
              <span className={`status-pill ${statusTone(v.status)}`}>{statusWords(v)}</span>
            </button>
          </li>
        ))}
      </ul>
      {!loading && done && shown.length === 0 && !error && (
        <p className="empty muted">
          {q || status ? 'No videos match.' : 'No videos yet. Upload some from the first tab.'}
        </p>
      )}
      {error && <p className="form-error">{error}</p>}
      <div ref={sentinel} className="sentinel" aria-hidden="true">
        {loading && <Icon name="spinner" spin />}
      </div>
    </div>
  );
}

function DetailPane({
  video,
  onClose,
  onDeleted,
}: {
  video: Video;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const [name, setName] = useState(video.name);
  const [renaming, setRenaming] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const keepRef = useRef<HTMLButtonElement>(null);
  // The safe choice takes focus when the confirmation opens (once, not on every render).
  useEffect(() => {
    if (confirming) keepRef.current?.focus();
  }, [confirming]);

  const rename = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const v = await Api.renameVideo(video.id, name.trim());
      mergeVideos([{ id: video.id, name: v.name ?? name.trim() }]);
      setRenaming(false);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not rename.');
    }
  };
  const remove = async () => {
    try {
      await Api.deleteVideo(video.id);
      forgetVideo(video.id);
      void refreshMe();
      onDeleted();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not delete.');
      setConfirming(false);
    }
  };

  return (
    <section className="card detail" aria-label={`Details of ${video.name}`}>
      <div className="card-head">
        {renaming ? (
          <form className="rename" onSubmit={rename}>
            <input
              aria-label="New name"
              value={name}
              maxLength={500}
              required
              onChange={(e) => setName(e.target.value)}
            />
            <button type="submit" className="btn small primary">
              Save
            </button>
            <button type="button" className="btn small ghost" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <h2>{video.name}</h2>
        )}
        <button type="button" className="btn ghost small" onClick={onClose} aria-label="Close details">
          <Icon name="x" size={14} />
        </button>
      </div>
      {video.status === 'ready' ? (
        <Player video={video} />
      ) : (
        <p className="muted">
          {statusWords(video)}
          {video.error ? ` — ${video.error.message}` : ''}
        </p>
      )}
      <dl className="facts small">
        <dt>Status</dt>
        <dd>{STATUS_WORDS[video.status]}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(durationOf(video))}</dd>
        {video.analysis?.width ? (
          <>
            <dt>Picture</dt>
            <dd>
              {video.analysis.width}×{video.analysis.height}
            </dd>
          </>
        ) : null}
        {video.size ? (
          <>
            <dt>Size</dt>
            <dd>{formatBytes(video.size)}</dd>
          </>
        ) : null}
      </dl>
      {error && <p className="form-error">{error}</p>}
      {confirming ? (
        <fieldset className="confirm" aria-label="Confirm delete">
          <span>
            Delete <strong>{video.name}</strong> and its files? This cannot be undone.
          </span>
          <button type="button" className="btn small danger" onClick={() => void remove()}>
            Delete
          </button>
          <button
            type="button"
            className="btn small ghost"
            onClick={() => setConfirming(false)}
            ref={(el) => el?.focus()}
          >
            Keep it
          </button>
        </fieldset>
      ) : (
        <div className="item-actions">
          <button type="button" className="btn small" onClick={() => setRenaming(true)}>
            <Icon name="edit" size={14} /> Rename
          </button>
          <button type="button" className="btn small danger-ghost" onClick={() => setConfirming(true)}>
            <Icon name="trash" size={14} /> Delete
          </button>
        </div>
      )}
    </section>
  );
}
