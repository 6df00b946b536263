import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from 'react';
import type { TimelineItem, Video } from '../api.ts';
import { durationOf, useVideoDetail } from '../details.ts';
import { formatDuration } from '../format.ts';
import { appStore, useStore } from '../store.ts';
import { addToTimeline, loadTimeline, setTimeline, timelineStore } from '../timeline.ts';
import { Poster } from './Dashboard.tsx';
import { IconButton } from './IconButton.tsx';
import { Icon } from './icons.tsx';
import { MediaControls, mediaKey, playWithSound } from './MediaControls.tsx';

/** Stable React keys for items the server has not numbered yet. */
const keyOf = (item: TimelineItem, i: number) => item.id ?? `new-${i}-${item.videoId}`;

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
            {saving ? 'Saving…' : items.length ? `Total ${formatDuration(total)} · saved` : ''}
          </span>
        </div>
        {error && <p className="form-error">{error}</p>}
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

interface RowProps {
  item: TimelineItem;
  index: number;
  count: number;
  video: Video | undefined;
  dragging: boolean;
  onKeyDown: (e: KeyboardEvent) => void;
  onDragStart: () => void;
  onDragEnd: () => void;
  onDrop: () => void;
  onMove: (to: number) => void;
  onChange: (patch: Partial<TimelineItem>) => void;
  onRemove: () => void;
}

function TimelineRow({ item, index, count, video, dragging, ...on }: RowProps) {
  useVideoDetail(video);
  const [over, setOver] = useState(false);
  const duration = durationOf(video);
  const name = video?.name ?? 'Missing video';
  const [inText, setInText] = useState(String(item.inSeconds));
  const [outText, setOutText] = useState(item.outSeconds === null ? '' : String(item.outSeconds));
  useEffect(() => setInText(String(item.inSeconds)), [item.inSeconds]);
  useEffect(() => setOutText(item.outSeconds === null ? '' : String(item.outSeconds)), [item.outSeconds]);

  const commit = () => {
    const inS = Math.max(0, Number(inText) || 0);
    const outS = outText.trim() === '' ? null : Number(outText);
    if (outS !== null && (!Number.isFinite(outS) || outS <= inS)) {
      setOutText(item.outSeconds === null ? '' : String(item.outSeconds));
      return;
    }
    if (inS !== item.inSeconds || outS !== item.outSeconds) on.onChange({ inSeconds: inS, outSeconds: outS });
  };

  return (
    <li
      className={`timeline-item${dragging ? ' dragging' : ''}${over ? ' drop-target' : ''}`}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a focusable list item carries the Alt+Arrow reorder shortcut.
      tabIndex={0}
      draggable
      aria-label={`Clip ${index + 1} of ${count}: ${name}`}
      data-testid="timeline-item"
      data-name={name}
      onKeyDown={on.onKeyDown}
      onDragStart={(e) => {
        e.dataTransfer.effectAllowed = 'move';
        e.dataTransfer.setData('text/plain', String(index));
        on.onDragStart();
      }}
      onDragEnd={on.onDragEnd}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        on.onDrop();
      }}
    >
      <span className="grip" aria-hidden="true">
        <Icon name="grip" />
      </span>
      <span className="pos">{index + 1}</span>
      {video ? <Poster video={video} /> : <span className="thumb placeholder" />}
      <div className="timeline-main">
        <span className="filename">{name}</span>
        <div className="inout small">
          <label>
            In
            <input
              type="number"
              min={0}
              step={0.1}
              max={duration ?? undefined}
              value={inText}
              aria-label={`In point of ${name}, seconds`}
              onChange={(e) => setInText(e.target.value)}
              onBlur={commit}
              onKeyDown={(e) => e.key === 'Enter' && commit()}
            />
          </label>
          <label>
            Out
            <input
              type="number"
              min={0}
              step={0.1}
              max={duration ?? undefined}
              placeholder={duration ? duration.toFixed(1) : 'end'}
              value={outText}
              aria-label={`Out point of ${name}, seconds`}
              onChange={(e) => setOutText(e.target.value)}
              onBlur={commit}
              onKeyDown={(e) => e.key === 'Enter' && commit()}
            />
          </label>
          <span className="muted">of {formatDuration(duration)}</span>
        </div>
      </div>
      <div className="row-actions">
        <IconButton icon="up" label={`Move ${name} earlier`} onClick={() => on.onMove(index - 1)} />
        <IconButton icon="down" label={`Move ${name} later`} onClick={() => on.onMove(index + 1)} />
        <IconButton icon="trash" label={`Remove ${name} from timeline`} onClick={on.onRemove} />
      </div>
    </li>
  );
}

/** Plays the clips one after another, each from its in point to its out point. */
function SequencePlayer({ items, videos }: { items: TimelineItem[]; videos: Record<string, Video> }) {
  const ref = useRef<HTMLVideoElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const [index, setIndex] = useState(0);
  const [playing, setPlaying] = useState(false);
  const item = items[Math.min(index, items.length - 1)];
  const video = item ? videos[item.videoId] : undefined;
  const src = video?.outputs?.video ?? undefined;

  const next = () => {
    if (index + 1 < items.length) setIndex(index + 1);
    else {
      setPlaying(false);
      setIndex(0);
    }
  };

  const toggleSequence = () => {
    if (playing) {
      ref.current?.pause();
      setPlaying(false);
    } else {
      setPlaying(true);
      if (ref.current) playWithSound(ref.current);
    }
  };

  useEffect(() => {
    const el = ref.current;
    if (!el || !item) return;
    el.currentTime = item.inSeconds;
    if (playing) playWithSound(el);
  }, [item, playing]);

  return (
    <section className="card" aria-labelledby="sequence-title">
      <div className="card-head">
        <h2 id="sequence-title">Preview the sequence</h2>
        <span className="small muted">
          Clip {index + 1} of {items.length}
          {video ? ` · ${video.name}` : ''}
        </span>
      </div>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: keys pressed on the video or the controls inside bubble here. */}
      <div
        className="player"
        ref={frame}
        data-testid="player"
        onKeyDown={(e) => {
          // Space and K play the sequence (not only the clip), like the button.
          if ((e.key === ' ' || e.key === 'k') && (e.target as HTMLElement).tagName !== 'BUTTON') {
            e.preventDefault();
            toggleSequence();
            return;
          }
          mediaKey(e, ref.current, frame.current);
        }}
      >
        <video
          ref={ref}
          src={src}
          playsInline
          tabIndex={0}
          aria-label="Sequence video (Space plays, arrows seek, M mutes, F fullscreen)"
          preload="auto"
          data-testid="sequence-video"
          onLoadedMetadata={(e) => {
            if (item) e.currentTarget.currentTime = item.inSeconds;
            if (playing) playWithSound(e.currentTarget);
          }}
          onTimeUpdate={(e) => {
            if (item?.outSeconds !== null && item && e.currentTarget.currentTime >= item.outSeconds) next();
          }}
          onEnded={next}
        >
          <track kind="captions" />
        </video>
        <div className="player-controls">
          <button type="button" className="btn" onClick={toggleSequence}>
            <Icon name={playing ? 'pause' : 'play'} size={14} /> {playing ? 'Pause' : 'Play sequence'}
          </button>
          <ol className="sequence-dots" aria-hidden="true">
            {items.map((it, i) => (
              <li key={keyOf(it, i)} className={i === index ? 'on' : ''} />
            ))}
          </ol>
          <MediaControls media={ref} frame={frame} />
        </div>
      </div>
    </section>
  );
}
