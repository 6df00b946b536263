import { type KeyboardEvent, type RefObject, useEffect, useState } from 'react';
import { Icon } from './icons.tsx';

/**
 * The controls every player of the app shares (dashboard, library, timeline): sound on by
 * default with a mute toggle and a volume slider (remembered across pages), playback speed,
 * fullscreen of the whole player, and keyboard control (mediaKey) on the player's frame.
 */

const VOLUME_KEY = 'clipdock.player.volume';
export const RATES = [0.5, 0.75, 1, 1.25, 1.5, 2];

export function savedVolume(): number {
  const v = Number(localStorage.getItem(VOLUME_KEY));
  return Number.isFinite(v) && v > 0 && v <= 1 ? v : 1;
}

/** Plays with sound; where the browser allows autoplay only without sound, plays muted (the button says so). */
export function playWithSound(el: HTMLVideoElement): void {
  el.play().catch((err: unknown) => {
    if ((err as { name?: string }).name !== 'NotAllowedError') return;
    el.muted = true;
    void el.play().catch(() => {});
  });
}

export function togglePlay(el: HTMLVideoElement): void {
  if (el.paused) playWithSound(el);
  else el.pause();
}

function toggleFullscreen(frame: HTMLElement | null): void {
  if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
  else void frame?.requestFullscreen?.().catch(() => {});
}

/**
 * Keyboard control on the player's frame: Space/K play or pause, ←/→ seek 5 s, ↑/↓ volume,
 * M mute, F fullscreen, < and > speed. Keys typed into the frame's own inputs stay theirs, and
 * focus stays where it was.
 */
export function mediaKey(e: KeyboardEvent, el: HTMLVideoElement | null, frame: HTMLElement | null): void {
  // A control inside that handled the key itself (the scrubber's arrows) keeps it.
  if (!el || e.defaultPrevented) return;
  const tag = (e.target as HTMLElement).tagName;
  if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
  const onButton = tag === 'BUTTON';
  const rateAt = RATES.indexOf(el.playbackRate);
  switch (e.key) {
    case ' ':
    case 'Enter':
      if (onButton) return;
      togglePlay(el);
      break;
    case 'k':
      togglePlay(el);
      break;
    case 'ArrowRight':
      el.currentTime = Math.min(el.duration || Number.POSITIVE_INFINITY, el.currentTime + 5);
      break;
    case 'ArrowLeft':
      el.currentTime = Math.max(0, el.currentTime - 5);
      break;
    case 'ArrowUp':
      el.muted = false;
      el.volume = Math.min(1, el.volume + 0.1);
      break;
    case 'ArrowDown':
      el.volume = Math.max(0, el.volume - 0.1);
      break;
    case 'm':
      el.muted = !el.muted;
      break;
    case 'f':
      toggleFullscreen(frame);
      break;
    case '>':
      el.playbackRate = RATES[Math.min(RATES.length - 1, (rateAt < 0 ? 2 : rateAt) + 1)]!;
      break;
    case '<':
      el.playbackRate = RATES[Math.max(0, (rateAt < 0 ? 2 : rateAt) - 1)]!;
      break;
    default:
      return;
  }
  e.preventDefault();
}

export function MediaControls({
  media,
  frame,
}: {
  media: RefObject<HTMLVideoElement | null>;
  frame: RefObject<HTMLElement | null>;
}) {
  const [muted, setMuted] = useState(false);
  const [volume, setVolume] = useState(savedVolume);
  const [rate, setRate] = useState(1);
  const [full, setFull] = useState(false);

  useEffect(() => {
    const el = media.current;
    if (!el) return;
    el.volume = savedVolume();
    el.muted = false;
    const sync = () => {
      setMuted(el.muted);
      setVolume(el.volume);
      setRate(el.playbackRate);
      if (el.volume > 0) localStorage.setItem(VOLUME_KEY, String(el.volume));
    };
    const onFull = () => setFull(document.fullscreenElement === frame.current);
    sync();
    el.addEventListener('volumechange', sync);
    el.addEventListener('ratechange', sync);
    document.addEventListener('fullscreenchange', onFull);
    return () => {
      el.removeEventListener('volumechange', sync);
      el.removeEventListener('ratechange', sync);
      document.removeEventListener('fullscreenchange', onFull);
    };
  }, [media, frame]);

  const silent = muted || volume === 0;
  return (
    <div className="media-controls">
      <button
        type="button"
        className="btn icon-only ghost"
        aria-label={silent ? 'Unmute' : 'Mute'}
        title={silent ? 'Unmute (M)' : 'Mute (M)'}
        data-testid="mute-button"
        onClick={() => {
          const el = media.current;
          if (!el) return;
          if (silent && el.volume === 0) el.volume = 0.5;
          el.muted = !silent;
        }}
      >
        <Icon name={silent ? 'muted' : 'volume'} size={16} />
      </button>
      <input
        type="range"
        className="volume"
        min={0}
        max={1}
        step={0.05}
        value={silent ? 0 : volume}
        aria-label="Volume"
        data-testid="volume"
        onChange={(e) => {
          const el = media.current;
          if (!el) return;
          el.volume = Number(e.target.value);
          el.muted = el.volume === 0;
        }}
      />
      <select
        className="rate"
        aria-label="Playback speed"
        value={rate}
        onChange={(e) => {
          if (media.current) media.current.playbackRate = Number(e.target.value);
        }}
      >
        {RATES.map((r) => (
          <option key={r} value={r}>
            {r}×
          </option>
        ))}
      </select>
      <button
        type="button"
        className="btn icon-only ghost"
        aria-label={full ? 'Exit fullscreen' : 'Fullscreen'}
        title={full ? 'Exit fullscreen (F)' : 'Fullscreen (F)'}
        onClick={() => toggleFullscreen(frame.current)}
      >
        <Icon name={full ? 'exitFullscreen' : 'fullscreen'} size={16} />
      </button>
    </div>
  );
}
