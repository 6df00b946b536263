import type { ServerOptions } from 'node:http';
import type { Config } from '../config.ts';

/**
 * How long a connection may take, by phase. A slow or silent client must not hold a socket (or,
 * through its request, a lock and a database connection) for long; an honest one sending a
 * 10 GiB file in one PATCH over a slow link must never be cut off. So nothing bounds a request's
 * total time: every bound is on silence.
 *
 * - headers: the request line and headers must arrive within HEADERS_TIMEOUT_MS (slowloris).
 * - body idle: a connection that moves no byte either way for BODY_IDLE_TIMEOUT_SECONDS is
 *   destroyed (Node's socket inactivity timeout, which Fastify calls `connectionTimeout`). A tus
 *   PATCH so closed keeps what it stored: the next HEAD reports that offset and the client
 *   resumes from there. The same bound ends a download whose reader stopped reading.
 * - keep-alive: an idle connection between requests is closed after KEEP_ALIVE_TIMEOUT_MS, longer
 *   than the 60 s idle timeout of the usual load balancers, so they never reuse a connection we
 *   are closing.
 * - WebSockets leave all of this after the upgrade (`ws` clears the socket timeout); the live
 *   hub's ping round drops silent ones.
 */
export const HEADERS_TIMEOUT_MS = 20_000;
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export function serverTimeouts(config: Config): {
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  http: ServerOptions;
} {
  return {
    connectionTimeout: config.connections.bodyIdleTimeoutSeconds * 1000,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Total time per request: off on purpose (a long upload is legitimate); silence is bounded above.
    requestTimeout: 0,
    http: { headersTimeout: HEADERS_TIMEOUT_MS },
  };
}
