import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, tusCreate } from '../uploads/helpers.ts';
import { errorCode, openSocket, signInAsBrowser } from './helpers.ts';

/** Personal API tokens: what scripts use. Created named, shown once, listed, revoked. */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
});
afterAll(async () => {
  await server?.stop();
});

interface TokenDto {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  token?: string;
}
const call = (token: string, path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
const create = (token: string, body: unknown) =>
  call(token, '/api/tokens', { method: 'POST', body: JSON.stringify(body) });
const list = async (token: string) => {
  const res = await call(token, '/api/tokens');
  expect(res.status).toBe(200);
  return ((await res.json()) as { tokens: TokenDto[] }).tokens;
};

describe('personal API tokens', () => {
  it('creates a named token shown once, lists it without the secret, records its last use', async () => {
    const s = await signInAsBrowser(server.url);
    const expiresAt = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();
    const res = await create(s.token, { name: 'backup script', expiresAt });
    expect(res.status).toBe(201);
    const created = (await res.json()) as TokenDto & { token: string };
    expect(created).toMatchObject({ name: 'backup script', lastUsedAt: null, expiresAt });
    expect(created.token).toMatch(/^cdp_/);

    const listed = await list(s.token);
    expect(listed).toEqual([
      { id: created.id, name: 'backup script', createdAt: created.createdAt, lastUsedAt: null, expiresAt },
    ]);
    const raw = await (await call(s.token, '/api/tokens')).text();
    expect(raw).not.toContain(created.token);
    expect(raw).not.toContain(created.token.slice(4, 20));

    // A script uses it for everything the API offers: reads, writes, uploads, the live socket.
    expect((await call(created.token, '/api/me')).status).toBe(200);
    expect(
      (await call(created.token, '/api/projects', { method: 'POST', body: '{"name":"x"}' })).status,
    ).toBe(201);
    const session = await createSession((p, i) => call(created.token, p, i), [{ name: 'a.mp4', size: 5000 }]);
    const body = fakeMp4(5000);
    const up = await tusCreate(session.files[0]!, created.token, { length: body.length, body });
    expect(up.status).toBe(201);
    const socket = await openSocket(server.url, { headers: { authorization: `Bearer ${created.token}` } });
    if (!('ws' in socket)) throw new Error(`socket refused: ${socket.status}`);
    socket.ws.close();
    const [used] = await list(s.token);
    expect(used?.lastUsedAt).not.toBeNull();
    expect(Date.parse(used!.lastUsedAt!)).toBeGreaterThanOrEqual(Date.parse(created.createdAt));
  });

  it('revokes a token: it is refused from then on, and only its owner can revoke it', async () => {
    const s = await signInAsBrowser(server.url);
    const other = await signInAsBrowser(server.url);
    const { id, token } = (await (await create(s.token, { name: 'ci' })).json()) as TokenDto & {
      token: string;
    };
    expect((await call(token, '/api/me')).status).toBe(200);

    // Another user neither sees it nor can revoke it.
    expect(await list(other.token)).toEqual([]);
    const foreign = await call(other.token, `/api/tokens/${id}`, { method: 'DELETE' });
    expect(foreign.status).toBe(404);
    expect(await errorCode(foreign)).toBe('API_TOKEN_NOT_FOUND');
    expect((await call(token, '/api/me')).status).toBe(200);

    expect((await call(s.token, `/api/tokens/${id}`, { method: 'DELETE' })).status).toBe(204);
    const refused = await call(token, '/api/me');
    expect(refused.status).toBe(401);
    expect(await errorCode(refused)).toBe('UNAUTHENTICATED');
    expect(await list(s.token)).toEqual([]);
    expect((await call(s.token, `/api/tokens/${id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses an expired token, an expiry in the past and a token minted by a token', async () => {
    const s = await signInAsBrowser(server.url);
    const past = await create(s.token, { name: 'old', expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(past.status).toBe(400);
    expect(await errorCode(past)).toBe('API_TOKEN_EXPIRY_INVALID');
    for (const name of ['', ' ', 'nul\u0000byte', 'x'.repeat(101)]) {
      expect((await create(s.token, { name })).status, JSON.stringify(name)).toBe(400);
    }
    expect((await create(s.token, { name: 'late', expiresAt: 'tomorrow' })).status).toBe(400);

    const { id, token } = (await (await create(s.token, { name: 'short' })).json()) as TokenDto & {
      token: string;
    };
    // A leaked token must not be able to make itself a longer-lived successor.
    const minted = await create(token, { name: 'successor' });
    expect(minted.status).toBe(403);
    expect(await errorCode(minted)).toBe('SESSION_REQUIRED');
    // Nor undo the owner's sign-outs.
    expect((await call(token, '/api/auth/logout-all', { method: 'POST' })).status).toBe(403);

    await server.node.ctx.db
      .updateTable('api_tokens')
      .set({ created_at: sql`now() - interval '1 day'`, expires_at: sql`now() - interval '1 second'` })
      .where('id', '=', id)
      .execute();
    expect((await call(token, '/api/me')).status).toBe(401);
  });

  it('keeps API tokens working after "sign out everywhere" (they are revoked one by one)', async () => {
    const s = await signInAsBrowser(server.url);
    const { token } = (await (await create(s.token, { name: 'nightly' })).json()) as { token: string };
    expect((await call(s.token, '/api/auth/logout-all', { method: 'POST' })).status).toBe(200);
    expect((await call(s.token, '/api/me')).status).toBe(401);
    expect((await call(token, '/api/me')).status).toBe(200);
  });
});
