import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { AppContext } from '../context.ts';
import { installAbuseGuards } from './abuse.ts';
import { installAdminGuard } from './admin-guard.ts';
import { requireUser } from './auth.ts';
import { installErrorHandler } from './error-handler.ts';
import { installHttpMetrics } from './http-metrics.ts';
import type { App, RouteModule } from './route-module.ts';
import { accountRoutes, healthRoutes } from './routes/account.ts';
import { adminRoutes } from './routes/admin.ts';
import { adminAlertsRoutes } from './routes/admin-alerts.ts';
import { authRoutes } from './routes/auth.ts';
import { duplicateRoutes } from './routes/duplicates.ts';
import { opsRoutes } from './routes/ops.ts';
import { processingRoutes } from './routes/processing.ts';
import { timelineRoutes } from './routes/timeline.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { uploadRoutes } from './routes/uploads.ts';
import { videoRoutes } from './routes/videos.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { serverTimeouts } from './timeouts.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a token. */
    public?: boolean;
  }
}

/** Every area's routes. Each file registers the routes of one area. */
const routeModules: RouteModule[] = [
  healthRoutes,
  authRoutes,
  tokenRoutes,
  accountRoutes,
  timelineRoutes,
  uploadRoutes,
  videoRoutes,
  processingRoutes,
  webhookRoutes,
  opsRoutes,
  adminRoutes,
  adminAlertsRoutes,
  duplicateRoutes,
];

export interface HttpServer {
  app: App;
  /** Stops accepting requests and closes open connections (WebSockets included). */
  close(): Promise<void>;
}

export async function buildHttpServer(ctx: AppContext, extra: RouteModule[] = []): Promise<HttpServer> {
  const app = Fastify({
    loggerInstance: ctx.log,
    // Uploads come through tus in chunks; JSON bodies stay small.
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    ...serverTimeouts(ctx.config),
    logController: new LogController({ disableRequestLogging: true }),
    // X-Forwarded-* are believed only from the proxies TRUST_PROXY names (off by default).
    trustProxy: ctx.config.abuse.trustProxy as boolean | string[],
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  installHttpMetrics(app);
  await installAbuseGuards(app, ctx);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Clipdock API',
        version: '0.1.0',
        description: 'Resumable video uploads, processing and live status.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const auth = requireUser(ctx);
  // Before body validation: a stranger learns only that they must sign in (401), not which
  // fields a route wants.
  app.addHook('preValidation', async (req, reply) => {
    if (req.routeOptions.config?.public || !req.url.startsWith('/api/')) return;
    if (req.routeOptions.url === undefined) return; // 404s render without auth
    await auth(req, reply);
  });
  installAdminGuard(app, ctx);

  for (const mod of [...routeModules, ...extra]) await mod(app, ctx);

  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  // The API reference is public: every route of the UI plugin opts out of the token check.
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true };
    });
    await docs.register(swaggerUi, { routePrefix: '/api/docs' });
  });

  return {
    app,
    async close() {
      await app.close();
    },
  };
}
