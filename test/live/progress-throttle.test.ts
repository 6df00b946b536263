import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressThrottle } from '../../src/events/progress-throttle.ts';
import type { ReceivedVideoEvent } from '../../src/events/video-events.ts';

const ev = (
  videoId: string,
  status: ReceivedVideoEvent['status'],
  progress: number,
  step: string | null = null,
) =>
  ({
    videoId,
    userId: 'u',
    projectId: 'p',
    sessionId: null,
    status,
    step,
    progress,
    error: null,
    updatedAt: new Date().toISOString(),
    xid: undefined,
  }) satisfies ReceivedVideoEvent;

describe('ProgressThrottle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('forwards the first event, holds the latest progress per interval, then forgets the video', () => {
    const out: Array<[string, number]> = [];
    const t = new ProgressThrottle(250, (e) => out.push([e.videoId, e.progress]));
    t.push(ev('a', 'uploading', 1));
    for (let p = 2; p <= 50; p++) t.push(ev('a', 'uploading', p));
    t.push(ev('b', 'uploading', 7));
    expect(out).toEqual([
      ['a', 1],
      ['b', 7],
    ]);
    vi.advanceTimersByTime(250);
    expect(out.at(-1)).toEqual(['a', 50]);
    vi.advanceTimersByTime(250);
    expect(out).toHaveLength(3);
    expect(t.size).toBe(0);
  });

  it('never holds back or reorders a status or step change, and drops the stale progress it replaces', () => {
    const out: Array<string> = [];
    const t = new ProgressThrottle(250, (e) => out.push(`${e.status}:${e.step}:${e.progress}`));
    t.push(ev('a', 'uploading', 10));
    t.push(ev('a', 'uploading', 90));
    t.push(ev('a', 'uploaded', 100));
    t.push(ev('a', 'processing', 0, 'probe'));
    t.push(ev('a', 'processing', 4, 'probe'));
    t.push(ev('a', 'processing', 6, 'normalize'));
    vi.advanceTimersByTime(1000);
    expect(out).toEqual([
      'uploading:null:10',
      'uploaded:null:100',
      'processing:probe:0',
      'processing:normalize:6',
    ]);
  });

  it('flushes what it holds when asked', () => {
    const out: number[] = [];
    const t = new ProgressThrottle(10_000, (e) => out.push(e.progress));
    t.push(ev('a', 'uploading', 1));
    t.push(ev('a', 'uploading', 2));
    t.flush();
    expect(out).toEqual([1, 2]);
  });
});
