import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Sign-in and sign-up as an attacker would hit them: password guessing against one account,
 * spraying from one address, mass sign-ups, and a second API node on the same database.
 */
let server: TestServer;
let second: TestServer['node'] | undefined;
beforeAll(async () => {
  server = await startTestServer({
    LOGIN_RATE_LIMIT: '5',
    LOGIN_IP_RATE_LIMIT: '20',
    SIGNUP_RATE_LIMIT: '6',
  });
});
afterAll(async () => {
  await second?.stop();
  await server?.stop();
});

const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

type ErrorBody = { error: { code: string; message: string; details?: { retryAfterSeconds?: number } } };

describe('sign-in limits', () => {
  it('stops guessing one account after LOGIN_RATE_LIMIT attempts, with 429, Retry-After and a code', async () => {
    const victim = await signUp(server.url);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await post(server.url, '/api/auth/login', { email: victim.email, password: `guess-${i}` })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    // The right password no longer helps the guesser: the account is closed for the window.
    const blocked = await post(server.url, '/api/auth/login', {
      email: victim.email.toUpperCase(),
      password: 'correct horse battery',
    });
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    const body = (await blocked.json()) as ErrorBody;
    expect(body.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(body.error.message).toMatch(/Try again in \d+ (seconds|minutes)/);
    expect(body.error.details?.retryAfterSeconds).toBe(retryAfter);
    // The victim's existing session keeps working.
    expect((await victim.api('/api/me')).status).toBe(200);
  });

  it('counts per account across API nodes (the counters live in PostgreSQL)', async () => {
    const { startClipdock } = await import('../../src/server.ts');
    const { loadConfig } = await import('../../src/config.ts');
    const pino = (await import('pino')).default;
    const config = loadConfig({ ...server.env, CLIPDOCK_ROLE: 'api' });
    second = await startClipdock(config, pino({ level: 'silent' }));
    const user = await signUp(server.url);
    const nodes = [server.url, second.url!];
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await post(nodes[i % 2]!, '/api/auth/login', { email: user.email, password: `wrong-${i}` });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('stops spraying many accounts from one address after LOGIN_IP_RATE_LIMIT attempts', async () => {
    // This file's earlier sign-ins came from 127.0.0.1 too: count what is left of the 20 (12 used).
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) {
      const res = await post(server.url, '/api/auth/login', {
        email: `nobody-${i}-${Date.now()}@example.com`,
        password: 'password1',
      });
      statuses.push(res.status);
      if (res.status === 429) {
        const body = (await res.json()) as ErrorBody;
        expect(body.error.code).toBe('TOO_MANY_ATTEMPTS');
        expect(body.error.message).toMatch(/from your network/);
        break;
      }
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
  });
});

describe('sign-up limits', () => {
  it('answers 429 once one address made SIGNUP_RATE_LIMIT accounts in an hour', async () => {
    // Earlier tests in this file signed up 2 users from this address; 4 more are allowed.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(server.url, '/api/auth/signup', {
        email: `bulk-${i}-${Date.now()}@example.com`,
        password: 'correct horse battery',
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 429]);
  });
});
