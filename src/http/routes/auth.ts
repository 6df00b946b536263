import { z } from 'zod';
import { login, signup } from '../../accounts/accounts.ts';
import { revokeApiTokenByValue } from '../../accounts/api-tokens.ts';
import { revokeAllSessions, revokeSession, SESSION_PREFIX } from '../../accounts/sessions.ts';
import { AppError } from '../../errors.ts';
import { bearerOf, clearSessionCookie, cookieOf, requireSession, setSessionCookie, userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';
import { assertSameOrigin } from '../same-origin.ts';

const credentials = z.object({
  email: z.email().max(320),
  password: z.string().min(8, 'must be at least 8 characters').max(1024),
});
const signedIn = z.object({ token: z.string(), user: z.object({ id: z.string(), email: z.string() }) });

/** Live-socket tokens last a minute: long enough to connect, too short to be worth stealing. */
const SOCKET_TOKEN_SECONDS = 60;

/**
 * Signup and login answer `{token, user}` (a session usable as a bearer token) and set the same
 * session as the web app's HttpOnly cookie. Logout revokes the session it is called with.
 */
export const authRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/api/auth/signup',
    { config: { public: true }, schema: { body: credentials, tags: ['auth'], response: { 201: signedIn } } },
    async (req, reply) => {
      const result = await signup(ctx.db, ctx.config, req.body.email, req.body.password);
      setSessionCookie(ctx, req, reply, result.token);
      return reply.status(201).send(result);
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: {
        body: credentials.extend({ password: z.string().min(1).max(1024) }),
        tags: ['auth'],
        response: { 200: signedIn },
      },
    },
    async (req, reply) => {
      const result = await login(ctx.db, ctx.config, req.body.email, req.body.password);
      setSessionCookie(ctx, req, reply, result.token);
      return result;
    },
  );

  // Public, so a stale cookie can still be cleared; revokes whatever secret it is called with.
  app.post(
    '/api/auth/logout',
    {
      config: { public: true },
      schema: { tags: ['auth'], summary: 'Revoke this session (cookie or login token), or this API token' },
    },
    async (req, reply) => {
      const bearer = bearerOf(req);
      const cookie = bearer ? undefined : cookieOf(req);
      if (cookie) assertSameOrigin(ctx.config, req);
      const secret = bearer ?? cookie;
      if (secret?.startsWith(SESSION_PREFIX)) await revokeSession(ctx.db, secret);
      else if (secret) await revokeApiTokenByValue(ctx.db, secret);
      clearSessionCookie(ctx, req, reply);
      return { ok: true };
    },
  );

  app.post(
    '/api/auth/logout-all',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign out everywhere: revoke every session and login token of yours (not API tokens)',
      },
    },
    async (req, reply) => {
      const revoked = await revokeAllSessions(ctx.db, requireSession(req).id);
      clearSessionCookie(ctx, req, reply);
      return { ok: true, revoked };
    },
  );

  app.post(
    '/api/ws/token',
    {
      schema: {
        tags: ['live'],
        summary: 'A live-socket token for GET /api/ws?token= (valid for one minute)',
        response: { 200: z.object({ token: z.string(), expiresAt: z.string() }) },
      },
    },
    async (req) => {
      const credential = req.auth?.credential;
      if (!credential) throw new AppError('UNAUTHENTICATED');
      const exp = Math.floor(Date.now() / 1000) + SOCKET_TOKEN_SECONDS;
      return {
        token: ctx.signer.socketToken(userOf(req).id, credential, exp),
        expiresAt: new Date(exp * 1000).toISOString(),
      };
    },
  );
};
