import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { hasAnyAccount } from '../accounts/admins.ts';
import { countAttempt } from '../accounts/attempts.ts';
import type { AppContext } from '../context.ts';
import type { Db } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { refuseNulCharacters } from './input-guards.ts';
import type { App } from './route-module.ts';
import { installSecurityHeaders } from './security-headers.ts';

/**
 * Guards against hostile clients that wrap routes from the outside (the routes stay unaware):
 * security headers on everything, no NUL characters in any input, and on sign-in and sign-up a per-IP limit (before the body is
 * read), the ALLOW_SIGNUP policy and a per-account (email) limit. Counters live in PostgreSQL
 * (src/accounts/attempts.ts), so every API node shares them: N nodes allow what one node allows.
 * Call before the routes are registered: the limits attach in onRoute.
 */
export async function installAbuseGuards(app: App, ctx: AppContext): Promise<void> {
  await installSecurityHeaders(app, ctx);
  refuseNulCharacters(app);
  await app.register(rateLimit, { global: false, store: pgStore(ctx.db) });

  const { abuse } = ctx.config;
  const QUARTER_HOUR = 15 * 60 * 1000;
  const HOUR = 60 * 60 * 1000;
  const login = {
    perIp: limiter(
      app,
      'login-ip',
      abuse.loginPerIp,
      QUARTER_HOUR,
      ipKey,
      'sign-in attempts from your network',
    ),
    perAccount: limiter(
      app,
      'login-email',
      abuse.loginPerAccount,
      QUARTER_HOUR,
      emailKey,
      'sign-in attempts for this account',
    ),
  };
  const signup = {
    perIp: limiter(app, 'signup-ip', abuse.signupPerIp, HOUR, ipKey, 'sign-ups from your network'),
    perAccount: limiter(
      app,
      'signup-email',
      abuse.loginPerAccount,
      QUARTER_HOUR,
      emailKey,
      'sign-ups with this email',
    ),
  };
  const signupPolicy = async () => {
    // The very first account can always be made, so a server started with ALLOW_SIGNUP=false is usable.
    if (!abuse.allowSignup && (await hasAnyAccount(ctx.db))) throw new AppError('SIGNUP_DISABLED');
  };

  app.addHook('onRoute', (route) => {
    if (route.method !== 'POST' && !(Array.isArray(route.method) && route.method.includes('POST'))) return;
    if (route.url === '/api/auth/login') {
      addHook(route, 'onRequest', login.perIp);
      addHook(route, 'preValidation', login.perAccount);
    } else if (route.url === '/api/auth/signup') {
      addHook(route, 'onRequest', signup.perIp);
      addHook(route, 'preValidation', signupPolicy);
      addHook(route, 'preValidation', signup.perAccount);
    }
  });
}

type Guard = (req: FastifyRequest) => Promise<void>;

/**
 * One counter: `max` attempts per `windowMs` per key; past it, 429 TOO_MANY_ATTEMPTS with
 * Retry-After. A key of undefined (no usable email) is not counted: validation answers 400 next.
 */
function limiter(
  app: App,
  name: string,
  max: number,
  windowMs: number,
  key: (req: FastifyRequest) => string | undefined,
  what: string,
): Guard {
  if (max === 0) return async () => {};
  const check = app.createRateLimit({
    max,
    timeWindow: windowMs,
    keyGenerator: (req) => `${name}:${key(req)}`,
  });
  return async (req) => {
    if (key(req) === undefined) return;
    const result = await check(req);
    if (result.isAllowed || !result.isExceeded) return;
    const seconds = Math.max(1, result.ttlInSeconds);
    throw new AppError(
      'TOO_MANY_ATTEMPTS',
      `Too many ${what} (${max} per ${windowMs / 60_000} minutes). Try again in ${inWords(seconds)}.`,
      { retryAfterSeconds: seconds },
    );
  };
}

/** The client's address (as TRUST_PROXY lets Fastify see it); IPv6 clients count per /56, as one household gets. */
const ipKey = (req: FastifyRequest) => normalizeIP(req.ip, 56);

function emailKey(req: FastifyRequest): string | undefined {
  const email = (req.body as { email?: unknown } | undefined)?.email;
  if (typeof email !== 'string' || email.length > 320) return undefined;
  return email.trim().toLowerCase();
}

function inWords(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

function addHook(route: RouteOptions, name: 'onRequest' | 'preValidation', fn: Guard): void {
  const hook = (async (req: FastifyRequest) => fn(req)) as onRequestHookHandler;
  const existing = route[name];
  route[name] = [
    ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]),
    hook,
  ] as never;
}

/** @fastify/rate-limit's store contract, over the shared PostgreSQL counters. */
function pgStore(db: Db) {
  return class PgRateLimitStore {
    incr(
      key: string,
      cb: (err: Error | null, res?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      countAttempt(db, key, timeWindow).then(
        (res) => cb(null, res),
        (err: Error) => cb(err),
      );
    }
    child(): PgRateLimitStore {
      return new PgRateLimitStore();
    }
  };
}
