import { useEffect, useRef, useState } from 'react';
import type { TimelineItem, Video } from '../api.ts';
import { Icon } from './icons.tsx';
import { MediaControls, mediaKey, playWithSound } from './MediaControls.tsx';

/** Stable React keys for items the server has not numbered yet. */
export const keyOf = (item: TimelineItem, i: number) => item.id ?? `new-${i}-${item.videoId}`;

/** Plays the clips one after another, each from its in point to its out point. */
export function SequencePlayer({ items, videos }: { items: TimelineItem[]; videos: Record<string, Video> }) {
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
