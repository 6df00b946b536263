import type { Watch } from '../videos/repository.ts';
import { presentVideoState, type VideoStateRow } from '../videos/video-dto.ts';
import { parseSnapshot, visibleInSnapshot } from './snapshot.ts';
import type { ReceivedVideoEvent, VideoEvent } from './video-events.ts';

/** The part of a `ws` WebSocket a live connection uses. */
export interface LiveSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string, cb?: (err?: Error) => void): void;
}

const OPEN = 1;

/**
 * One event goes to every tab of its user: its message object and its JSON (without `seq`) are
 * built once and shared by all connections, which only append their own `seq`.
 */
const messageOf = new WeakMap<ReceivedVideoEvent, VideoStatusMessage>();
const jsonOf = new WeakMap<ServerMessage, string>();

/** `{"type":"video.status", ...}`: one video's state. `seq` is added when it is written. */
export interface VideoStatusMessage {
  type: 'video.status';
  videoId: string;
  status: VideoEvent['status'];
  step: string | null;
  progress: number;
  error: VideoEvent['error'];
  updatedAt: string;
  projectId: string;
  sessionId: string | null;
  name?: string;
  /** Enrichment state (issue 10); older clients ignore it. */
  analysis?: VideoEvent['analysis'];
  /** Seconds left of the running transcode, when known. */
  etaSeconds?: number | null;
}

export type ServerMessage =
  | VideoStatusMessage
  | { type: 'synced'; reason: 'subscribe' | 'resync'; watch: WatchJson; count: number }
  | { type: 'pong' }
  | { type: 'error'; error: { code: string; message: string } };

type WatchJson = { all: true } | { sessionId: string } | { projectId: string };

export const watchJson = (w: Watch): WatchJson =>
  w.kind === 'all'
    ? { all: true }
    : w.kind === 'session'
      ? { sessionId: w.sessionId }
      : { projectId: w.projectId };

export interface LiveConnectionOptions {
  /** Above this many bytes queued on the socket, new messages wait in `pending` (latest per video). */
  highWaterBytes?: number;
  /** Pending messages are written again once the queue is below this. */
  lowWaterBytes?: number;
  /** Videos remembered per connection, to tell the client which of them were deleted while the node was deaf. */
  maxKnown?: number;
}

/**
 * One browser tab's live feed. Invariants:
 * - `seq` increases by one with every message written, in write order.
 * - Only events of this connection's user that match its watch are delivered (the hub routes by
 *   user; `matches` checks the watch).
 * - While a snapshot is being read, matching events are held, then replayed after the snapshot's
 *   rows, minus those the snapshot already reflects (by transaction id): the client ends on the
 *   latest state and never steps back to an older one.
 * - Memory per connection is bounded: when the socket does not drain, at most one pending
 *   message per video (the latest) waits, plus one per other message type.
 */
export class LiveConnection {
  readonly userId: string;
  readonly socket: LiveSocket;
  watch: Watch = { kind: 'all' };
  /** Cleared by the ping round, set by any sign of life. */
  alive = true;
  private seq = 0;
  private readonly pending = new Map<string, ServerMessage>();
  private held: ReceivedVideoEvent[] | undefined;
  private generation = 0;
  /** Videos the client was told about (not deleted), oldest first, with where they belong. */
  private readonly known = new Map<string, { projectId: string; sessionId: string | null }>();
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly highWater: number;
  private readonly lowWater: number;
  private readonly maxKnown: number;

  constructor(userId: string, socket: LiveSocket, opts: LiveConnectionOptions = {}) {
    this.userId = userId;
    this.socket = socket;
    this.highWater = opts.highWaterBytes ?? 256 * 1024;
    this.lowWater = opts.lowWaterBytes ?? 64 * 1024;
    this.maxKnown = opts.maxKnown ?? 2000;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get knownIds(): string[] {
    return [...this.known.keys()];
  }

  /** Watches something else from now on; what the client knew belongs to the old watch. */
  setWatch(watch: Watch): void {
    this.watch = watch;
    this.known.clear();
  }

  matches(e: VideoEvent): boolean {
    if (e.userId !== this.userId) return false;
    switch (this.watch.kind) {
      case 'all':
        return true;
      case 'session':
        return e.sessionId === this.watch.sessionId;
      case 'project':
        return e.projectId === this.watch.projectId;
    }
  }

  onEvent(e: ReceivedVideoEvent): void {
    if (!this.matches(e)) return;
    if (this.held) this.held.push(e);
    else this.deliverEvent(e);
  }

  /** Starts holding events for a snapshot; returns a token that `applySnapshot` must present. */
  beginSnapshot(): number {
    this.held = [];
    return ++this.generation;
  }

  /**
   * Sends the snapshot's rows, then `deleted` for each of `gone` (videos the client knew and the
   * snapshot no longer finds), a `synced` marker, and the held events the snapshot does not show.
   * A snapshot overtaken by a newer one is ignored.
   */
  applySnapshot(
    token: number,
    rows: Array<VideoStateRow & { snapshot: string }>,
    reason: 'subscribe' | 'resync',
    gone: string[] = [],
  ): void {
    if (token !== this.generation) return;
    const snap = rows[0] ? parseSnapshot(rows[0].snapshot) : undefined;
    const inSnapshot = new Set<string>();
    for (const row of rows) {
      const s = presentVideoState(row);
      inSnapshot.add(s.id);
      this.deliver({
        type: 'video.status',
        videoId: s.id,
        status: s.status,
        step: s.step,
        progress: s.progress,
        error: s.error,
        updatedAt: s.updatedAt,
        projectId: s.projectId,
        sessionId: s.sessionId,
        name: s.name,
        analysis: s.analysis,
        etaSeconds: s.etaSeconds,
      });
    }
    for (const videoId of gone) {
      const last = this.known.get(videoId);
      if (!last) continue;
      this.deliver({
        type: 'video.status',
        videoId,
        status: 'deleted',
        step: null,
        progress: 0,
        error: null,
        updatedAt: new Date().toISOString(),
        projectId: last.projectId,
        sessionId: last.sessionId,
      });
    }
    this.deliver({ type: 'synced', reason, watch: watchJson(this.watch), count: rows.length });
    const held = this.held ?? [];
    this.held = undefined;
    for (const e of held) {
      if (snap && e.xid && inSnapshot.has(e.videoId) && visibleInSnapshot(e.xid, snap)) continue;
      this.deliverEvent(e);
    }
  }

  /** The snapshot could not be read: deliver what was held as it came. */
  abandonSnapshot(token: number): void {
    if (token !== this.generation) return;
    const held = this.held ?? [];
    this.held = undefined;
    for (const e of held) this.deliverEvent(e);
  }

  send(message: ServerMessage): void {
    this.deliver(message);
  }

  private deliverEvent(e: ReceivedVideoEvent): void {
    let message = messageOf.get(e);
    if (!message) {
      message = {
        type: 'video.status',
        videoId: e.videoId,
        status: e.status,
        step: e.step,
        progress: e.progress,
        error: e.error,
        updatedAt: e.updatedAt,
        projectId: e.projectId,
        sessionId: e.sessionId,
        ...(e.name !== undefined ? { name: e.name } : {}),
        ...(e.analysis !== undefined ? { analysis: e.analysis } : {}),
        ...(e.etaSeconds !== undefined ? { etaSeconds: e.etaSeconds } : {}),
      };
      messageOf.set(e, message);
    }
    this.deliver(message);
  }

  private deliver(message: ServerMessage): void {
    if (message.type === 'video.status') this.remember(message);
    if (this.socket.readyState !== OPEN) return;
    if (this.pending.size > 0 || this.socket.bufferedAmount > this.highWater) {
      const key = message.type === 'video.status' ? message.videoId : `:${message.type}`;
      const earlier = this.pending.get(key);
      // Latest wins, but a name carried by an earlier message is not lost by coalescing.
      if (earlier?.type === 'video.status' && message.type === 'video.status' && message.name === undefined) {
        this.pending.set(key, earlier.name === undefined ? message : { ...message, name: earlier.name });
      } else {
        this.pending.set(key, message);
      }
      this.scheduleDrain();
      return;
    }
    this.write(message);
  }

  private write(message: ServerMessage): void {
    this.seq++;
    let json = jsonOf.get(message);
    if (json === undefined) {
      json = JSON.stringify(message);
      jsonOf.set(message, json);
    }
    // `{...}` → `{...,"seq":N}`: every message is a non-empty object.
    this.socket.send(`${json.slice(0, -1)},"seq":${this.seq}}`, (err) => {
      if (!err) this.drain();
    });
  }

  /** Called as writes complete: sends what waited, oldest first, while the socket keeps up. */
  private drain(): void {
    if (this.socket.readyState !== OPEN) {
      this.pending.clear();
      return;
    }
    while (this.pending.size > 0 && this.socket.bufferedAmount <= this.lowWater) {
      const [key, message] = this.pending.entries().next().value as [string, ServerMessage];
      this.pending.delete(key);
      this.write(message);
    }
  }

  /**
   * Write callbacks drain the queue as the socket empties; this timer is the safety net for a
   * queue that filled while no write of ours was outstanding.
   */
  private scheduleDrain(): void {
    if (this.drainTimer) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.drain();
      if (this.pending.size > 0 && this.socket.readyState === OPEN) this.scheduleDrain();
    }, 250);
    this.drainTimer.unref();
  }

  /** Stops the drain timer and forgets what waits (the socket is gone). */
  close(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.pending.clear();
    this.held = undefined;
  }

  private remember(m: VideoStatusMessage): void {
    this.known.delete(m.videoId);
    if (m.status === 'deleted') return;
    this.known.set(m.videoId, { projectId: m.projectId, sessionId: m.sessionId });
    if (this.known.size > this.maxKnown) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }
}
