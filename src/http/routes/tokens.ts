import { z } from 'zod';
import { createApiToken, listApiTokens, revokeApiToken } from '../../accounts/api-tokens.ts';
import { requireSession, userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

const tokenDto = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
});

/** Personal API tokens (src/accounts/api-tokens.ts): for scripts and the CLI. */
export const tokenRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/api/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create a personal API token; the answer is the only time it is shown',
        body: z.object({
          name: z
            .string()
            .trim()
            .min(1)
            .max(100)
            .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters'),
          expiresAt: z.iso.datetime({ offset: true }).optional(),
        }),
        response: { 201: tokenDto.extend({ token: z.string() }) },
      },
    },
    async (req, reply) => {
      const { name, expiresAt } = req.body;
      const created = await createApiToken(ctx.db, requireSession(req).id, {
        name,
        expiresAt: expiresAt ? new Date(expiresAt) : undefined,
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Your personal API tokens (never the tokens themselves)',
        response: { 200: z.object({ tokens: z.array(tokenDto) }) },
      },
    },
    async (req) => ({ tokens: await listApiTokens(ctx.db, userOf(req).id) }),
  );

  app.delete(
    '/api/tokens/:id',
    {
      schema: { tags: ['auth'], summary: 'Revoke a personal API token', params: z.object({ id: z.uuid() }) },
    },
    async (req, reply) => {
      await revokeApiToken(ctx.db, userOf(req).id, req.params.id);
      return reply.status(204).send();
    },
  );
};
