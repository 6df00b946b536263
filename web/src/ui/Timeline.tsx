import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from 'react';
import { durationOf } from '../details.ts';
import { formatDuration } from '../format.ts';
import { appStore, useStore } from '../store.ts';
import { addToTimeline, loadTimeline, setTimeline, timelineStore } from '../timeline.ts';
import { Icon } from './icons.tsx';
import { Poster } from './Poster.tsx';
import { keyOf, SequencePlayer } from './SequencePlayer.tsx';
import { TimelineRow } from './TimelineRow.tsx';

function move<T>(list: T[], from: number, to: number): T[] {
  const next = [...list];
  const [x] = next.splice(from, 1);
  next.splice(to, 0, x!);
  return next;
}

export function TimelineView() {
  const projectId = useStore(appStore, (s) => s.projectId);
  const videos = useStore(appStore, (s) => s.videos);
  const items = useStore(timelineStore, (s) => s.items);
  const loading = useStore(timelineStore, (s) => s.loading);
  const saving = useStore(timelineStore, (s) => s.saving);
  const error = useStore(timelineStore, (s) => s.error);
  const [dragFrom, setDragFrom] = useState<number | null>(null);
  const [focusIndex, setFocusIndex] = useState<number | null>(null);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => {
    if (projectId) void loadTimeline(projectId);
  }, [projectId]);

  // After a keyboard move, keep focus on the item that moved.
  useEffect(() => {
    if (focusIndex === null) return;
    (list.current?.children[focusIndex] as HTMLElement | undefined)?.focus();
    setFocusIndex(null);
  }, [focusIndex]);

  const ready = useMemo(
    () =>
      Object.values(videos).filter(
        (v) => v.status === 'ready' && (!v.projectId || v.projectId === projectId),
      ),
    [videos, projectId],
  );
  const total = items.reduce((sum, it) => {
    const d = durationOf(videos[it.videoId]);
    return sum + ((it.outSeconds ?? d ?? 0) - it.inSeconds);
  }, 0);

  const reorder = (from: number, to: number) => {
    if (to < 0 || to >= items.length || from === to) return;
    void setTimeline(move(items, from, to));
    return true;
  };
  const onKey = (e: KeyboardEvent, i: number) => {
    if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
    e.preventDefault();
    const to = e.key === 'ArrowUp' ? i - 1 : i + 1;
    if (reorder(i, to)) setFocusIndex(to);
  };

  return (
    <div className="timeline-view">
      <section className="card" aria-labelledby="timeline-title">
        <div className="card-head">
          <h2 id="timeline-title">
            Timeline <span className="count">{items.length}</span>
          </h2>
          <span className="small muted" aria-live="polite">
            {saving
              ? 'Saving…'
              : error
                ? 'Not saved'
                : items.length
                  ? `Total ${formatDuration(total)} · saved`
                  : ''}
          </span>
        </div>
        {error && (
          <p className="form-error" role="alert" data-testid="timeline-error">
            {error}
          </p>
        )}
        {loading && items.length === 0 ? (
          <p className="muted">Loading…</p>
        ) : items.length === 0 ? (
          <p className="empty muted">No clips yet. Add ready videos below or from the dashboard.</p>
        ) : (
          <>
            <p className="small muted">Drag to reorder, or focus a clip and press Alt+↑ / Alt+↓.</p>
            <ol className="timeline" ref={list} aria-label="Clips in play order">
              {items.map((it, i) => (
                <TimelineRow
                  key={keyOf(it, i)}
                  item={it}
                  index={i}
                  count={items.length}
                  video={videos[it.videoId]}
                  dragging={dragFrom === i}
                  onKeyDown={(e) => onKey(e, i)}
                  onDragStart={() => setDragFrom(i)}
                  onDragEnd={() => setDragFrom(null)}
                  onDrop={() => {
                    if (dragFrom !== null) reorder(dragFrom, i);
                    setDragFrom(null);
                  }}
                  onMove={(to) => {
                    if (reorder(i, to)) setFocusIndex(to);
                  }}
                  onChange={(patch) =>
                    void setTimeline(items.map((x, j) => (j === i ? { ...x, ...patch } : x)))
                  }
                  onRemove={() => void setTimeline(items.filter((_, j) => j !== i))}
                />
              ))}
            </ol>
          </>
        )}
      </section>
      {items.length > 0 && <SequencePlayer items={items} videos={videos} />}
      <section className="card" aria-labelledby="clips-title">
        <h2 id="clips-title">Ready clips</h2>
        {ready.length === 0 ? (
          <p className="empty muted">No ready videos in this project yet.</p>
        ) : (
          <ul className="clip-strip">
            {ready.map((v) => (
              <li key={v.id}>
                <Poster video={v} />
                <span className="filename small">{v.name}</span>
                <button
                  type="button"
                  className="btn small"
                  aria-label={`Add ${v.name} to timeline`}
                  onClick={() => projectId && void addToTimeline(projectId, v.id)}
                >
                  <Icon name="plus" size={14} /> Add
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
