import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type WebSocket from 'ws';
import type { Credential } from '../accounts/signing.ts';
import type { Db } from '../db/database.ts';

/** Close code of a live socket whose session or API token was revoked or expired. */
export const CLOSE_SIGNED_OUT = 4401;

/**
 * A WebSocket outlives the upgrade request that authenticated it. So that logout, "sign out
 * everywhere", a revoked API token or an expired session also end the live feeds opened with
 * them, each socket is tied to its credential, and every `intervalMs` this node asks the
 * database which of its sockets' credentials still live (one query per kind, for all sockets),
 * closing the others with CLOSE_SIGNED_OUT. Revocations on any node reach every node this way.
 */
export class LiveCredentials {
  readonly #sockets = new Map<WebSocket, Credential>();
  readonly #db: Db;
  readonly #log: FastifyBaseLogger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(opts: { db: Db; log: FastifyBaseLogger; intervalMs: number }) {
    this.#db = opts.db;
    this.#log = opts.log;
    this.#intervalMs = opts.intervalMs;
  }

  start(): void {
    this.#timer = setInterval(() => void this.recheck(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sockets.clear();
  }

  track(socket: WebSocket, credential: Credential): void {
    this.#sockets.set(socket, credential);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** Closes the sockets whose credential is gone. Rounds never overlap. */
  async recheck(): Promise<void> {
    if (this.#running || this.#sockets.size === 0) return;
    this.#running = true;
    try {
      // Only the sockets known now are judged: one tracked while the queries run has a credential
      // they did not ask about, and must not be closed for that.
      const judged = [...this.#sockets];
      const ids = (kind: Credential['kind']) => [
        ...new Set(judged.filter(([, c]) => c.kind === kind).map(([, c]) => c.id)),
      ];
      const [sessions, tokens] = [ids('session'), ids('api_token')];
      const live = new Set<string>();
      if (sessions.length > 0) {
        const rows = await this.#db
          .selectFrom('auth_sessions')
          .select('id')
          .where('id', 'in', sessions)
          .where('expires_at', '>', sql<Date>`now()`)
          .execute();
        for (const r of rows) live.add(r.id);
      }
      if (tokens.length > 0) {
        const rows = await this.#db
          .selectFrom('api_tokens')
          .select('id')
          .where('id', 'in', tokens)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
          .execute();
        for (const r of rows) live.add(r.id);
      }
      for (const [socket, credential] of judged) {
        if (live.has(credential.id) || !this.#sockets.has(socket)) continue;
        this.#sockets.delete(socket);
        socket.close(CLOSE_SIGNED_OUT, 'Signed out: the session or token of this connection ended.');
      }
    } catch (err) {
      this.#log.warn({ err }, 'could not re-check the credentials of live sockets');
    } finally {
      this.#running = false;
    }
  }
}
