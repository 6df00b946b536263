import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Authenticated, authenticate, findUser, type User } from '../accounts/accounts.ts';
import { SIGNED_MEDIA_ROUTES } from '../accounts/media-urls.ts';
import type { Credential } from '../accounts/signing.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { assertSameOrigin, isUpgrade, needsSameOrigin } from './same-origin.ts';

/**
 * How a request proves who it is. One of, in this order:
 * - `Authorization: Bearer <session or API token>` (scripts; no origin rule);
 * - `?sig=` on a GET/HEAD of media (a signed URL: that one path, until it expires);
 * - `?token=` on the `/api/ws` upgrade, holding a live-socket token from `POST /api/ws/token`;
 * - the session cookie (the web app), under the same-origin rule (same-origin.ts).
 * A session or API token in the URL authorises nothing: URLs end up in logs and Referer headers.
 */
export type AuthVia = 'bearer' | 'cookie' | 'signed-url' | 'socket-token';
export interface RequestAuth {
  via: AuthVia;
  /** What the secret was: a session (login token or cookie), an API token, or a signed capability. */
  kind: 'session' | 'api_token' | 'signed';
  /** The session or API token behind it (absent for a signed media URL). */
  credential?: Credential;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: User | undefined;
    auth: RequestAuth | undefined;
  }
}

export const SESSION_COOKIE = 'clipdock_token';

export function bearerOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) return undefined;
  return header.slice(7).trim() || undefined;
}

/** The session cookie's value; an undecodable one counts as absent (a 401, never a 500). */
export function cookieOf(req: FastifyRequest): string | undefined {
  const cookie = req.headers.cookie;
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim()) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const queryOf = (req: FastifyRequest, name: string): string | undefined => {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && v ? v : undefined;
};
const pathOf = (req: FastifyRequest) => req.url.split('?', 1)[0]!;

const credentialOf = (a: Authenticated): Credential =>
  a.kind === 'session' ? { kind: 'session', id: a.sessionId } : { kind: 'api_token', id: a.tokenId };

const refused = (message?: string) => new AppError('UNAUTHENTICATED', message);

/** Who the request is, and how it said so; throws 401/403 with the reason. */
export async function authenticateRequest(
  ctx: AppContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<{ user: User; auth: RequestAuth }> {
  const bearer = bearerOf(req);
  if (bearer) {
    const found = await authenticate(ctx.db, ctx.config, bearer);
    if (!found) throw refused('This token is not valid (expired, revoked or unknown). Sign in again.');
    return { user: found.user, auth: { via: 'bearer', kind: found.kind, credential: credentialOf(found) } };
  }

  const sig = queryOf(req, 'sig');
  let badSignature = false;
  if (
    sig &&
    (req.method === 'GET' || req.method === 'HEAD') &&
    SIGNED_MEDIA_ROUTES.has(req.routeOptions.url ?? '')
  ) {
    const userId = ctx.signer.verifyMedia(pathOf(req), sig);
    const user = userId ? await findUser(ctx.db, userId) : undefined;
    if (user) return { user, auth: { via: 'signed-url', kind: 'signed' } };
    badSignature = true; // the web app's cookie may still cover it
  }

  const query = queryOf(req, 'token');
  if (query && isUpgrade(req)) {
    const verified = ctx.signer.verifySocketToken(query);
    const user = verified ? await findUser(ctx.db, verified.userId) : undefined;
    if (!user || !verified) {
      throw refused(
        '?token= takes only a live-socket token, valid for a minute: get one from POST /api/ws/token, or send "Authorization: Bearer <token>".',
      );
    }
    return { user, auth: { via: 'socket-token', kind: 'signed', credential: verified.credential } };
  }

  const cookie = cookieOf(req);
  if (cookie) {
    // Before the lookup: a forged cross-site request costs no database work.
    if (needsSameOrigin(req)) assertSameOrigin(ctx.config, req);
    const found = await authenticate(ctx.db, ctx.config, cookie);
    if (found?.kind === 'session') {
      if (found.slid) setSessionCookie(ctx, req, reply, cookie);
      return { user: found.user, auth: { via: 'cookie', kind: 'session', credential: credentialOf(found) } };
    }
  }

  if (badSignature) throw new AppError('SIGNED_URL_INVALID');
  if (query) {
    throw refused(
      'A token in the URL (?token=) is not accepted: send "Authorization: Bearer <token>" instead.',
    );
  }
  throw refused(cookie ? 'Your session has expired or was signed out. Sign in again.' : undefined);
}

/** preHandler for every private route: sets `req.user` and `req.auth`, or refuses. */
export function requireUser(ctx: AppContext) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const { user, auth } = await authenticateRequest(ctx, req, reply);
    req.user = user;
    req.auth = auth;
  };
}

/** The signed-in user; only call behind `requireUser`. */
export function userOf(req: FastifyRequest): User {
  if (!req.user) throw new AppError('UNAUTHENTICATED');
  return req.user;
}

/**
 * For what a personal API token must not do (mint tokens, sign out everywhere): a leaked one
 * must not make itself a successor or lock its owner out.
 */
export function requireSession(req: FastifyRequest): User {
  if (req.auth?.kind !== 'session') throw new AppError('SESSION_REQUIRED');
  return userOf(req);
}

/** `Secure` whenever browsers reach the app over https (PUBLIC_URL, or this request). */
const isHttps = (ctx: AppContext, req: FastifyRequest) =>
  ctx.config.publicUrl?.startsWith('https:') === true || req.protocol === 'https';

export function setSessionCookie(
  ctx: AppContext,
  req: FastifyRequest,
  reply: FastifyReply,
  token: string,
): void {
  const maxAge = ctx.config.auth.sessionTtlHours * 3600;
  const secure = isHttps(ctx, req) ? '; Secure' : '';
  reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`,
  );
}

export function clearSessionCookie(ctx: AppContext, req: FastifyRequest, reply: FastifyReply): void {
  const secure = isHttps(ctx, req) ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure}`);
}
