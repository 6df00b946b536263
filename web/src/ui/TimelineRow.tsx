import { type KeyboardEvent, useEffect, useState } from 'react';
import type { TimelineItem, Video } from '../api.ts';
import { durationOf, useVideoDetail } from '../details.ts';
import { formatDuration } from '../format.ts';
import { IconButton } from './IconButton.tsx';
import { Icon } from './icons.tsx';
import { Poster } from './Poster.tsx';

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

export function TimelineRow({ item, index, count, video, dragging, ...on }: RowProps) {
  useVideoDetail(video);
  const [over, setOver] = useState(false);
  const duration = durationOf(video);
  const name = video?.name ?? 'Missing video';
  const [inText, setInText] = useState(String(item.inSeconds));
  const [outText, setOutText] = useState(item.outSeconds === null ? '' : String(item.outSeconds));
  // `item` is a new object whenever the server answers (a refused save included): the fields
  // then show what is stored, not what was typed.
  useEffect(() => {
    setInText(String(item.inSeconds));
    setOutText(item.outSeconds === null ? '' : String(item.outSeconds));
  }, [item]);

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
