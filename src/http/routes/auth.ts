import { z } from 'zod';
import { login, signup } from '../../accounts/accounts.ts';
import { setSessionCookie } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

const credentials = z.object({
  email: z.email().max(320),
  password: z.string().min(8, 'must be at least 8 characters').max(1024),
});

export const authRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/api/auth/signup',
    { config: { public: true }, schema: { body: credentials, tags: ['auth'] } },
    async (req, reply) => {
      const result = await signup(ctx.db, ctx.config.limits, req.body.email, req.body.password);
      setSessionCookie(reply, result.token);
      return reply.status(201).send(result);
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: { body: credentials.extend({ password: z.string().min(1).max(1024) }), tags: ['auth'] },
    },
    async (req, reply) => {
      const result = await login(ctx.db, req.body.email, req.body.password);
      setSessionCookie(reply, result.token);
      return result;
    },
  );

  app.post(
    '/api/auth/logout',
    { config: { public: true }, schema: { tags: ['auth'] } },
    async (_req, reply) => {
      reply.header('set-cookie', 'clipdock_token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
      return { ok: true };
    },
  );
};
