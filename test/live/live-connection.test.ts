import { describe, expect, it } from 'vitest';
import { LiveConnection, type LiveSocket } from '../../src/events/live-connection.ts';
import type { ReceivedVideoEvent } from '../../src/events/video-events.ts';
import type { VideoStateRow } from '../../src/videos/video-dto.ts';

/**
 * A socket whose network is as slow as the test says: writes stay queued (bufferedAmount) until
 * `drainAll()` hands them to the "client".
 */
class SlowSocket implements LiveSocket {
  readyState = 1;
  bufferedAmount = 0;
  queued: Array<{ data: string; cb?: (err?: Error) => void }> = [];
  received: Array<Record<string, unknown>> = [];
  send(data: string, cb?: (err?: Error) => void): void {
    this.bufferedAmount += data.length;
    this.queued.push({ data, cb });
  }
  drainAll(): void {
    while (this.queued.length > 0) {
      const w = this.queued.shift()!;
      this.bufferedAmount -= w.data.length;
      this.received.push(JSON.parse(w.data));
      w.cb?.();
    }
  }
}

const ev = (
  videoId: string,
  progress: number,
  xid?: string,
  status: ReceivedVideoEvent['status'] = 'uploading',
) =>
  ({
    videoId,
    userId: 'u1',
    projectId: 'p1',
    sessionId: null,
    status,
    step: null,
    progress,
    error: null,
    updatedAt: new Date().toISOString(),
    xid,
  }) satisfies ReceivedVideoEvent;

const row = (id: string, snapshot: string, status: VideoStateRow['status'] = 'uploading', progress = 50) =>
  ({
    id,
    user_id: 'u1',
    name: `${id}.mp4`,
    status,
    project_id: 'p1',
    session_id: null,
    declared_size: '10',
    mime_type: null,
    declared_type: null,
    upload_progress: progress,
    error_code: null,
    error_message: null,
    created_at: new Date(),
    updated_at: new Date(),
    processing_step: null,
    overall_progress: null,
    analysis_error_code: null,
    analysis_error_message: null,
    duration_seconds: null,
    poster_key: null,
    enrichment_status: null,
    enrichment_step: null,
    enrichment_progress: null,
    enrichment_error_code: null,
    enrichment_error_message: null,
    eta_seconds: null,
    snapshot,
  }) satisfies VideoStateRow & { snapshot: string };

describe('LiveConnection', () => {
  it('keeps only the latest message per video for a client that does not read, then catches up', () => {
    const socket = new SlowSocket();
    const conn = new LiveConnection('u1', socket, { highWaterBytes: 1000, lowWaterBytes: 100 });
    for (let i = 0; i < 10_000; i++) conn.onEvent(ev(`v${i % 20}`, i % 101));
    // Bounded: what sits on the socket is about the high-water mark, plus one message per video.
    expect(socket.bufferedAmount).toBeLessThan(1000 + 400);
    expect(conn.pendingCount).toBe(20);

    socket.drainAll();
    socket.drainAll();
    expect(conn.pendingCount).toBe(0);
    expect(socket.received.length).toBeLessThan(100);
    const last = new Map<string, unknown>();
    for (const m of socket.received) last.set(m.videoId as string, m.progress);
    for (let v = 0; v < 20; v++) {
      const lastI = 10_000 - 20 + v;
      expect(last.get(`v${v}`)).toBe(lastI % 101);
    }
    const seqs = socket.received.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('delivers only its own user’s events, for what it watches', () => {
    const socket = new SlowSocket();
    const conn = new LiveConnection('u1', socket);
    conn.onEvent({ ...ev('mine', 1), userId: 'u1' });
    conn.onEvent({ ...ev('theirs', 1), userId: 'u2' });
    conn.setWatch({ kind: 'session', sessionId: 's1' });
    conn.onEvent({ ...ev('other-session', 2), sessionId: 's2' });
    conn.onEvent({ ...ev('in-session', 2), sessionId: 's1' });
    socket.drainAll();
    expect(socket.received.map((m) => m.videoId)).toEqual(['mine', 'in-session']);
  });

  it('replays events held during a snapshot unless the snapshot already shows them', () => {
    const socket = new SlowSocket();
    const conn = new LiveConnection('u1', socket);
    const token = conn.beginSnapshot();
    // Snapshot xmin 100, xmax 110, 105 still running when it was taken.
    conn.onEvent(ev('a', 40, '99')); // committed before: the snapshot shows it (or later)
    conn.onEvent(ev('a', 60, '105')); // running at snapshot time: newer than the snapshot
    conn.onEvent(ev('b', 70, '103')); // b is not in the snapshot: delivered regardless
    conn.onEvent(ev('a', 80, '111')); // started after the snapshot
    conn.applySnapshot(token, [row('a', '100:110:105', 'uploading', 50)], 'subscribe');
    socket.drainAll();
    expect(socket.received.map((m) => [m.type, m.videoId, m.progress])).toEqual([
      ['video.status', 'a', 50],
      ['synced', undefined, undefined],
      ['video.status', 'a', 60],
      ['video.status', 'b', 70],
      ['video.status', 'a', 80],
    ]);
  });

  it('after a resync, reports the videos it knew that are gone', () => {
    const socket = new SlowSocket();
    const conn = new LiveConnection('u1', socket);
    conn.onEvent(ev('kept', 1));
    conn.onEvent(ev('gone', 1));
    const token = conn.beginSnapshot();
    conn.applySnapshot(token, [row('kept', '1:1:')], 'resync', ['gone']);
    socket.drainAll();
    expect(socket.received.slice(2).map((m) => [m.videoId, m.status])).toEqual([
      ['kept', 'uploading'],
      ['gone', 'deleted'],
      [undefined, undefined],
    ]);
    expect(conn.knownIds).toEqual(['kept']);
  });
});
