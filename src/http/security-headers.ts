import type { IncomingMessage } from 'node:http';
import helmet from '@fastify/helmet';
import type { AppContext } from '../context.ts';
import type { App } from './route-module.ts';

type Directives = Record<string, Array<string | ((req: IncomingMessage) => string)>>;

/**
 * Security headers on every response (@fastify/helmet, set in onRequest): a CSP the built web app
 * runs under, frame-ancestors 'none', nosniff, no referrer; HSTS only when PUBLIC_URL is https.
 * Routes that set their own stricter headers in the handler (stored bytes: `sandbox;
 * default-src 'none'`, src/http/serve-object.ts) win, because the handler runs after onRequest.
 */
export async function installSecurityHeaders(app: App, ctx: AppContext): Promise<void> {
  const publicUrl = ctx.config.publicUrl ? new URL(ctx.config.publicUrl) : undefined;
  const https = publicUrl?.protocol === 'https:';

  const directives: Directives = {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:', 'blob:'],
    mediaSrc: ["'self'", 'blob:'],
    fontSrc: ["'self'", 'data:'],
    // 'self' covers ws(s) of the same host only in CSP level 3 browsers; name it for the rest.
    connectSrc: ["'self'", (req) => liveOrigin(publicUrl, req)],
    workerSrc: ["'self'", 'blob:'],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  };
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      // Not upgrade-insecure-requests: the one-command start is plain http, often on a LAN address.
      directives,
    },
    strictTransportSecurity: https ? { maxAge: 180 * 24 * 3600 } : false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });

  // The API reference (Swagger UI) styles itself inline and draws icons as data: images.
  app.addHook('onRoute', (route) => {
    if (route.url === '/api/docs' || route.url.startsWith('/api/docs/')) {
      route.config = {
        ...route.config,
        helmet: {
          contentSecurityPolicy: {
            useDefaults: false,
            directives: {
              ...directives,
              styleSrc: ["'self'", "'unsafe-inline'"],
              imgSrc: ["'self'", 'data:'],
            },
          },
        },
      } as typeof route.config;
    }
  });
}

/** The WebSocket origin of this node: from PUBLIC_URL, else the request's Host (when it is a plain host). */
function liveOrigin(publicUrl: URL | undefined, req: IncomingMessage): string {
  if (publicUrl) return `${publicUrl.protocol === 'https:' ? 'wss' : 'ws'}://${publicUrl.host}`;
  const host = req.headers.host ?? '';
  if (!/^[A-Za-z0-9.\-[\]:]{1,255}$/.test(host)) return "'self'";
  return `ws://${host} wss://${host}`;
}
