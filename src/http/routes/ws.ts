import websocket from '@fastify/websocket';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { LiveHub } from '../../events/live-hub.ts';
import { MAX_MESSAGE_BYTES } from '../../events/socket-limits.ts';
import { userOf } from '../auth.ts';
import { LiveCredentials } from '../live-credentials.ts';
import type { RouteModule } from '../route-module.ts';

/**
 * `GET /api/ws`: the live feed. Authentication is the global preHandler's, so an unauthenticated
 * upgrade is refused with a plain 401 before any WebSocket exists. A plain GET (no upgrade) gets
 * 426. Declared with `wsHandler` rather than `websocket: true`, which would hide it from OpenAPI.
 * A socket ends when the session or API token it was opened with does (live-credentials.ts),
 * checked every ping interval.
 */
export const wsRoutes =
  (hub: LiveHub): RouteModule =>
  async (app, ctx) => {
    await app.register(websocket, { options: { maxPayload: MAX_MESSAGE_BYTES } });
    const credentials = new LiveCredentials({
      db: ctx.db,
      log: ctx.log,
      intervalMs: ctx.config.livePingIntervalSeconds * 1000,
    });
    credentials.start();
    app.addHook('onClose', async () => credentials.stop());
    app.route({
      method: 'GET',
      url: '/api/ws',
      schema: {
        tags: ['live'],
        summary: 'Live status of your videos (WebSocket)',
        description:
          'Upgrade to a WebSocket. The server sends {"type":"video.status","videoId","status","step","progress","error","seq",...} for every change of your videos, after the current state of what you watch. Send {"type":"subscribe","sessionId"|"projectId"|"all":true} to watch an upload session, a project or everything (the default). See the README, "Live status".',
        querystring: z.object({
          token: z
            .string()
            .optional()
            .describe(
              'Only for clients that cannot send headers: a live-socket token from POST /api/ws/token (valid for a minute). Otherwise send Authorization: Bearer, or (the web app) the session cookie from the same origin.',
            ),
        }),
      },
      wsHandler: (socket, req) => {
        hub.attach(socket, userOf(req).id);
        if (req.auth?.credential) credentials.track(socket, req.auth.credential);
      },
      handler: async () => {
        throw new AppError('UPGRADE_REQUIRED');
      },
    });
  };
