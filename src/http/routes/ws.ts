import websocket from '@fastify/websocket';
import { z } from 'zod';
import type { LiveHub } from '../../events/live-hub.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

/**
 * `GET /api/ws`: the live feed. Authentication is the global preHandler's, so an unauthenticated
 * upgrade is refused with a plain 401 before any WebSocket exists.
 */
export const wsRoutes =
  (hub: LiveHub): RouteModule =>
  async (app) => {
    await app.register(websocket, { options: { maxPayload: 16 * 1024 } });
    app.get(
      '/api/ws',
      {
        websocket: true,
        schema: {
          tags: ['live'],
          summary: 'Live status of your videos (WebSocket)',
          description:
            'Upgrade to a WebSocket. The server sends {"type":"video.status","videoId","status","step","progress","error","seq",...} for every change of your videos, after the current state of what you watch. Send {"type":"subscribe","sessionId"|"projectId"|"all":true} to watch an upload session, a project or everything (the default). See the README, "Live status".',
          querystring: z.object({ token: z.string().optional() }),
        },
      },
      (socket, req) => {
        hub.attach(socket, userOf(req).id);
      },
    );
  };
