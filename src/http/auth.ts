import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, type User } from '../accounts/accounts.ts';
import type { Db } from '../db/database.ts';
import { AppError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user: User | undefined;
  }
}

export const SESSION_COOKIE = 'clipdock_token';

/** The token from `Authorization: Bearer`, `?token=` (WebSocket, media elements) or the web UI's cookie. */
export function tokenFrom(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  if (typeof q === 'string' && q) return q;
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === SESSION_COOKIE) return decodeURIComponent(v.join('='));
    }
  }
  return undefined;
}

/** preHandler for every private route: sets `req.user` or replies 401. */
export function requireUser(db: Db) {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const token = tokenFrom(req);
    const user = token ? await authenticate(db, token) : undefined;
    if (!user) {
      throw new AppError(
        'UNAUTHENTICATED',
        token ? 'This token is not valid (expired or unknown). Sign in again.' : undefined,
      );
    }
    req.user = user;
  };
}

/** The signed-in user; only call behind `requireUser`. */
export function userOf(req: FastifyRequest): User {
  if (!req.user) throw new AppError('UNAUTHENTICATED');
  return req.user;
}

export function setSessionCookie(reply: FastifyReply, token: string): void {
  reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${60 * 60 * 24 * 30}`,
  );
}
