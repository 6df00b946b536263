import { type MouseEvent, useEffect, useRef, useState } from 'react';
import type { Video } from '../api.ts';
import { durationOf, useVideoDetail } from '../details.ts';
import { formatDuration } from '../format.ts';
import { Icon } from './icons.tsx';
import { MediaControls, mediaKey, playWithSound, togglePlay } from './MediaControls.tsx';

/**
 * The preview player (dashboard and library): the server's MP4 (seeks with HTTP Range), a
 * scrubber with scene-cut marks, storyboard thumbnails while hovering the scrubber, and the
 * shared controls (sound, volume, speed, fullscreen, keyboard: MediaControls.tsx).
 */
export function Player({ video }: { video: Video }) {
  useVideoDetail(video);
  const ref = useRef<HTMLVideoElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const [time, setTime] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [mediaDuration, setMediaDuration] = useState<number | null>(null);
  const [hover, setHover] = useState<{ x: number; t: number } | null>(null);
  const duration = mediaDuration ?? durationOf(video) ?? 0;
  const src = video.outputs?.video ?? null;
  const scenes = video.analysis?.scenes ?? [];
  const sb = video.analysis?.storyboard ?? null;
  const sprite = video.outputs?.storyboard ?? null;

  // A click on Preview starts playing, with sound, without another click (once the URL is known).
  useEffect(() => {
    const el = ref.current;
    if (!el || !src) return;
    playWithSound(el);
  }, [src]);

  if (!src) {
    return <p className="muted">Loading the video…</p>;
  }

  const seekFrom = (e: MouseEvent<HTMLDivElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    return { x: e.clientX - rect.left, t: f * duration };
  };
  const tile = sb && hover ? Math.min(sb.count - 1, Math.floor(hover.t / sb.interval)) : 0;

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: keys pressed on the video or the controls inside bubble here.
    <div
      className="player"
      ref={frame}
      data-testid="player"
      onKeyDown={(e) => mediaKey(e, ref.current, frame.current)}
    >
      <video
        ref={ref}
        src={src}
        poster={video.outputs?.poster ?? undefined}
        preload="metadata"
        playsInline
        tabIndex={0}
        aria-label={`${video.name} (Space plays, arrows seek, M mutes, F fullscreen)`}
        data-testid="preview-video"
        onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)}
        onLoadedMetadata={(e) => setMediaDuration(e.currentTarget.duration)}
        onPlay={() => setPlaying(true)}
        onPause={() => setPlaying(false)}
        onClick={(e) => togglePlay(e.currentTarget)}
      >
        <track kind="captions" />
      </video>
      <div className="player-controls">
        <button
          type="button"
          className="btn icon-only"
          aria-label={playing ? 'Pause' : 'Play'}
          onClick={() => {
            if (ref.current) togglePlay(ref.current);
          }}
        >
          <Icon name={playing ? 'pause' : 'play'} />
        </button>
        <div
          className="scrubber"
          role="slider"
          tabIndex={0}
          aria-label="Seek"
          aria-valuemin={0}
          aria-valuemax={Math.round(duration)}
          aria-valuenow={Math.round(time)}
          aria-valuetext={`${formatDuration(time)} of ${formatDuration(duration)}`}
          onMouseMove={(e) => setHover(seekFrom(e))}
          onMouseLeave={() => setHover(null)}
          onClick={(e) => {
            if (ref.current) ref.current.currentTime = seekFrom(e).t;
          }}
          onKeyDown={(e) => {
            const el = ref.current;
            if (!el) return;
            if (e.key === 'ArrowRight') el.currentTime = Math.min(duration, el.currentTime + 5);
            else if (e.key === 'ArrowLeft') el.currentTime = Math.max(0, el.currentTime - 5);
            else return;
            e.preventDefault();
          }}
        >
          <div className="scrub-track">
            <div className="scrub-fill" style={{ width: `${duration ? (time / duration) * 100 : 0}%` }} />
            {duration > 0 &&
              scenes.map((s) => (
                <span
                  key={s.start}
                  className="scene-mark"
                  style={{ left: `${(s.start / duration) * 100}%` }}
                  title={`Scene cut at ${formatDuration(s.start)}`}
                />
              ))}
          </div>
          {hover && (
            <div className="scrub-hover" style={{ left: hover.x }}>
              {sb && sprite && (
                <div
                  className="storyboard-tile"
                  style={{
                    width: sb.tileWidth,
                    height: sb.tileHeight,
                    backgroundImage: `url("${sprite}")`,
                    backgroundPosition: `-${(tile % sb.columns) * sb.tileWidth}px -${Math.floor(tile / sb.columns) * sb.tileHeight}px`,
                  }}
                />
              )}
              <span>{formatDuration(hover.t)}</span>
            </div>
          )}
        </div>
        <span className="small muted time">
          {formatDuration(time)} / {formatDuration(duration)}
        </span>
        <MediaControls media={ref} frame={frame} />
      </div>
      {scenes.length > 0 && <p className="small muted">{scenes.length} scene cuts marked on the scrubber.</p>}
    </div>
  );
}
