import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

/**
 * The same-origin rule for the session cookie. A browser attaches the cookie to requests that
 * other pages make, including pages on another port of the same host (same-site, so SameSite=Lax
 * does not stop them). So a cookie-authenticated state change (anything but GET/HEAD/OPTIONS)
 * or WebSocket upgrade must say it comes from the app's own origin: `Origin` equal to it, or,
 * when a browser sends no Origin, `Sec-Fetch-Site: same-origin` (or `none`: typed by the user).
 * A request with neither is not one of the app's pages and is refused. Bearer-authenticated
 * requests are exempt: no other page can make a browser send an Authorization header.
 */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const isUpgrade = (req: FastifyRequest) => req.headers.upgrade?.toLowerCase() === 'websocket';

export const needsSameOrigin = (req: FastifyRequest) => !SAFE_METHODS.has(req.method) || isUpgrade(req);

/**
 * With PUBLIC_URL the app's origin is exactly its origin. Without it, the host the request
 * reached (Host, or X-Forwarded-Host only under TRUST_PROXY): only host and port are compared,
 * since a TLS-terminating proxy makes the scheme seen here differ from the browser's.
 */
export function isSameOrigin(config: Pick<Config, 'publicUrl'>, req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) {
    const site = req.headers['sec-fetch-site'];
    return site === 'same-origin' || site === 'none';
  }
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, privacy-sensitive redirects) and garbage
  }
  if (config.publicUrl) return from.origin === new URL(config.publicUrl).origin;
  try {
    return from.host === new URL(`${from.protocol}//${req.host}`).host;
  } catch {
    return false;
  }
}

export function assertSameOrigin(config: Pick<Config, 'publicUrl'>, req: FastifyRequest): void {
  if (!isSameOrigin(config, req)) throw new AppError('CROSS_ORIGIN_REFUSED');
}
