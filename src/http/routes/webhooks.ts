import { z } from 'zod';
import { listDeliveries, redeliver } from '../../webhooks/deliveries.ts';
import { WEBHOOK_EVENTS } from '../../webhooks/events.ts';
import { createWebhook, deleteWebhook, listWebhooks } from '../../webhooks/webhooks.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

const webhookDto = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  projectId: z.string().nullable(),
  createdAt: z.string(),
});

const deliveryDto = z.object({
  id: z.string(),
  event: z.string(),
  videoId: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  lastStatusCode: z.number().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  lastAttemptAt: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
});

const idParams = z.object({ id: z.uuid() });

/** Outgoing webhooks (src/webhooks/), signed per the Standard Webhooks specification. */
export const webhookRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/api/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Add a webhook; the answer is the only time its signing secret is shown',
        body: z.object({
          url: z.string().trim().min(1).max(2048),
          events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).optional(),
          projectId: z.uuid().optional(),
        }),
        response: { 201: webhookDto.extend({ secret: z.string() }) },
      },
    },
    async (req, reply) => reply.status(201).send(await createWebhook(ctx, userOf(req).id, req.body)),
  );

  app.get(
    '/api/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Your webhooks (never their secrets)',
        response: { 200: z.object({ webhooks: z.array(webhookDto) }) },
      },
    },
    async (req) => ({ webhooks: await listWebhooks(ctx, userOf(req).id) }),
  );

  app.delete(
    '/api/webhooks/:id',
    { schema: { tags: ['webhooks'], summary: 'Delete a webhook and its delivery log', params: idParams } },
    async (req, reply) => {
      await deleteWebhook(ctx, userOf(req).id, req.params.id);
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/webhooks/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "A webhook's latest deliveries (newest first): attempts, last status code or error",
        params: idParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
        response: { 200: z.object({ deliveries: z.array(deliveryDto) }) },
      },
    },
    async (req) => ({
      deliveries: await listDeliveries(ctx, userOf(req).id, req.params.id, req.query.limit),
    }),
  );

  app.post(
    '/api/webhooks/:id/deliveries/:deliveryId/redeliver',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Send a delivery again now (same body and webhook-id)',
        params: z.object({ id: z.uuid(), deliveryId: z.uuid() }),
      },
    },
    async (req, reply) => {
      await redeliver(ctx, userOf(req).id, req.params.id, req.params.deliveryId);
      return reply.status(202).send({ status: 'pending' });
    },
  );
};
