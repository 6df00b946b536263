import type { FastifyBaseLogger } from 'fastify';
import type WebSocket from 'ws';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import { liveState, type Watch } from '../videos/repository.ts';
import type { BusMessage, VideoEventBus } from './event-bus.ts';
import { LiveConnection, type LiveConnectionOptions } from './live-connection.ts';
import { CLOSE_TOO_MANY_MESSAGES, CLOSE_TOO_MANY_SOCKETS, LatestOnly, TokenBucket } from './socket-limits.ts';

export interface LiveHubOptions extends LiveConnectionOptions {
  bus: VideoEventBus;
  db: Db;
  log: FastifyBaseLogger;
  /** A socket that has not answered the previous ping by the next round is dropped. */
  pingIntervalMs?: number;
  /** Snapshot queries run at once after a resync (the rest wait their turn). */
  resyncConcurrency?: number;
  /** Open sockets per user on this node; one more is closed with 4029. */
  maxSocketsPerUser?: number;
  /** Client messages per socket: `burst` at once, then `perSecond`; beyond, closed with 4008. */
  messageRate?: { burst: number; perSecond: number };
}

type Subscribe = { sessionId?: string; projectId?: string };

/** One socket's allowance: its message budget and its one-at-a-time subscribes. */
interface SocketGuard {
  bucket: TokenBucket;
  subscribes: LatestOnly<Subscribe>;
  /** Closed by a limit: whatever it still sends is ignored. */
  refused: boolean;
}

const uuid = z.uuid();
const ClientMessage = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('subscribe'),
      sessionId: uuid.optional(),
      projectId: uuid.optional(),
      all: z.literal(true).optional(),
    })
    .refine((m) => [m.sessionId, m.projectId, m.all].filter((x) => x !== undefined).length <= 1, {
      message: 'give one of sessionId, projectId or all',
    }),
  z.object({ type: z.literal('ping') }),
]);

const watchKey = (w: Watch) =>
  w.kind === 'all' ? 'all' : w.kind === 'session' ? `s:${w.sessionId}` : `p:${w.projectId}`;

/**
 * Every live connection of this node, indexed by user so an event reaches only its owner's
 * sockets. Fed by the event bus; reads snapshots from the database on connect, on subscribe and
 * after the bus reports it may have missed events.
 */
export class LiveHub {
  private readonly opts: LiveHubOptions;
  private readonly byUser = new Map<string, Set<LiveConnection>>();
  private unsubscribe: (() => void) | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(opts: LiveHubOptions) {
    this.opts = opts;
  }

  start(): void {
    this.unsubscribe = this.opts.bus.subscribe((m) => this.onBus(m));
    this.pingTimer = setInterval(() => this.pingRound(), this.opts.pingIntervalMs ?? 30_000);
    this.pingTimer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    clearInterval(this.pingTimer);
    for (const conns of this.byUser.values()) for (const c of conns) c.close();
    this.byUser.clear();
  }

  get connectionCount(): number {
    let n = 0;
    for (const conns of this.byUser.values()) n += conns.size;
    return n;
  }

  /**
   * Takes over an authenticated socket: sends the current state, then every change. A user
   * already at `maxSocketsPerUser` gets the socket closed with 4029 instead (undefined).
   */
  attach(socket: WebSocket, userId: string): LiveConnection | undefined {
    const conns = this.byUser.get(userId) ?? new Set<LiveConnection>();
    if (conns.size >= (this.opts.maxSocketsPerUser ?? 20)) {
      socket.close(CLOSE_TOO_MANY_SOCKETS.code, CLOSE_TOO_MANY_SOCKETS.reason);
      return undefined;
    }
    const conn = new LiveConnection(userId, socket, this.opts);
    this.byUser.set(userId, conns);
    conns.add(conn);
    const rate = this.opts.messageRate ?? { burst: 40, perSecond: 10 };
    const guard: SocketGuard = {
      bucket: new TokenBucket(rate.burst, rate.perSecond),
      subscribes: new LatestOnly((m) => this.subscribe(conn, m)),
      refused: false,
    };
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      conn.alive = true;
      if (guard.refused) return;
      if (!guard.bucket.take()) {
        guard.refused = true;
        socket.close(CLOSE_TOO_MANY_MESSAGES.code, CLOSE_TOO_MANY_MESSAGES.reason);
        return;
      }
      this.onClientMessage(conn, guard, isBinary ? '' : data.toString());
    });
    socket.on('close', () => {
      conn.close();
      const set = this.byUser.get(userId);
      set?.delete(conn);
      if (set?.size === 0) this.byUser.delete(userId);
    });
    socket.on('error', (err) => this.opts.log.debug({ err }, 'websocket error'));
    void this.snapshot([conn], 'subscribe');
    return conn;
  }

  private onClientMessage(conn: LiveConnection, guard: SocketGuard, text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) {
      conn.send({
        type: 'error',
        error: {
          code: 'BAD_MESSAGE',
          message:
            'Send JSON: {"type":"subscribe","all":true}, {"type":"subscribe","sessionId":"<uuid>"}, {"type":"subscribe","projectId":"<uuid>"} or {"type":"ping"}.',
        },
      });
      return;
    }
    const m = parsed.data;
    if (m.type === 'ping') {
      conn.send({ type: 'pong' });
      return;
    }
    // One subscribe in flight per socket; while it runs, only the latest one sent waits.
    guard.subscribes.submit(m);
  }

  /** Another user's (or an unknown) session or project is refused, as the HTTP API's 404; the old watch stays. */
  private async subscribe(conn: LiveConnection, m: Subscribe): Promise<void> {
    if (conn.socket.readyState !== 1) return; // closed while it waited its turn
    const { db } = this.opts;
    try {
      if (m.sessionId) {
        const own = await db
          .selectFrom('upload_sessions')
          .select('id')
          .where('id', '=', m.sessionId)
          .where('user_id', '=', conn.userId)
          .executeTakeFirst();
        if (!own) return this.refuse(conn, 'SESSION_NOT_FOUND', 'No such upload session in your account.');
      } else if (m.projectId) {
        const own = await db
          .selectFrom('projects')
          .select('id')
          .where('id', '=', m.projectId)
          .where('user_id', '=', conn.userId)
          .executeTakeFirst();
        if (!own) return this.refuse(conn, 'PROJECT_NOT_FOUND', 'No such project in your account.');
      }
    } catch (err) {
      this.opts.log.warn({ err }, 'live subscribe check failed');
      return this.refuse(
        conn,
        'DATABASE_UNAVAILABLE',
        'Could not check what to watch; send the subscribe again.',
      );
    }
    conn.setWatch(
      m.sessionId
        ? { kind: 'session', sessionId: m.sessionId }
        : m.projectId
          ? { kind: 'project', projectId: m.projectId }
          : { kind: 'all' },
    );
    await this.snapshot([conn], 'subscribe');
  }

  private refuse(conn: LiveConnection, code: string, message: string): void {
    conn.send({ type: 'error', error: { code, message } });
  }

  private onBus(m: BusMessage): void {
    if (m.kind === 'event') {
      const conns = this.byUser.get(m.event.userId);
      if (conns) for (const c of conns) c.onEvent(m.event);
      return;
    }
    const all = [...this.byUser.values()].flatMap((s) => [...s]);
    void this.snapshot(all, 'resync');
  }

  /**
   * Reads and sends the state the connections watch. Connections of one user with the same watch
   * share one query. Every connection starts holding events before any query is sent, so nothing
   * that commits meanwhile is lost.
   */
  private async snapshot(conns: LiveConnection[], reason: 'subscribe' | 'resync'): Promise<void> {
    const groups = new Map<string, Array<{ conn: LiveConnection; token: number; watch: Watch }>>();
    for (const conn of conns) {
      const key = `${conn.userId}|${watchKey(conn.watch)}`;
      const g = groups.get(key) ?? [];
      groups.set(key, g);
      g.push({ conn, token: conn.beginSnapshot(), watch: conn.watch });
    }
    const queue = [...groups.values()];
    const worker = async () => {
      for (let g = queue.shift(); g; g = queue.shift()) await this.snapshotGroup(g, reason);
    };
    const n = Math.min(queue.length, this.opts.resyncConcurrency ?? 4);
    await Promise.all(Array.from({ length: n }, worker));
  }

  private async snapshotGroup(
    group: Array<{ conn: LiveConnection; token: number; watch: Watch }>,
    reason: 'subscribe' | 'resync',
  ): Promise<void> {
    const first = group[0]!;
    // After a resync, also re-read what the clients were told about, to report deletions.
    const known = reason === 'resync' ? [...new Set(group.flatMap((g) => g.conn.knownIds))] : [];
    try {
      const rows = await liveState(this.opts.db, first.conn.userId, first.watch, known);
      const found = new Set(rows.map((r) => r.id));
      for (const { conn, token } of group) {
        const gone = reason === 'resync' ? conn.knownIds.filter((id) => !found.has(id)) : [];
        conn.applySnapshot(token, rows, reason, gone);
      }
    } catch (err) {
      this.opts.log.warn({ err }, 'live snapshot failed');
      for (const { conn, token } of group) {
        conn.abandonSnapshot(token);
        conn.send({
          type: 'error',
          error: {
            code: 'DATABASE_UNAVAILABLE',
            message: 'Could not read the current state; reconnect shortly.',
          },
        });
        // The client reconnects and gets the state then.
        (conn.socket as WebSocket).close(1011, 'state unavailable');
      }
    }
  }

  private pingRound(): void {
    for (const conns of this.byUser.values()) {
      for (const conn of conns) {
        const socket = conn.socket as WebSocket;
        if (!conn.alive) {
          socket.terminate();
          continue;
        }
        conn.alive = false;
        socket.ping();
      }
    }
  }
}
