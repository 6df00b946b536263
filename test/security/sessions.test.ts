import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Signer } from '../../src/accounts/signing.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startNode } from '../live/helpers.ts';
import { errorCode, openSocket, signInAsBrowser } from './helpers.ts';

/**
 * Sessions and the same-origin rule, tried as an attacker would: a token after logout, an
 * expired session, a page on another port of the same host using the victim's cookie (POSTs
 * and the live socket), and long-lived tokens put in URLs.
 */
const SECRET = 'sessions-test-signing-secret-0123456789';
let server: TestServer;
beforeAll(async () => {
  // No worker: nothing here needs processing.
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    SIGNING_SECRET: SECRET,
    SESSION_TTL_HOURS: '24',
    // Live sockets' credentials are re-checked every ping round.
    LIVE_PING_INTERVAL_SECONDS: '1',
  });
});
afterAll(async () => {
  await server?.stop();
});

const db = () => server.node.ctx.db;
const otherOrigin = () => `http://127.0.0.1:${Number(new URL(server.url).port) + 1}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const me = (headers: Record<string, string>) => fetch(`${server.url}/api/me`, { headers });
const createProject = (headers: Record<string, string>, name = 'Holiday') =>
  fetch(`${server.url}/api/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name }),
  });
const logout = (headers: Record<string, string>, path = '/api/auth/logout') =>
  fetch(`${server.url}${path}`, { method: 'POST', headers });

describe('sessions', () => {
  it('refuses a login token after logout with it, and only that one', async () => {
    const a = await signInAsBrowser(server.url);
    const b = await signInAsBrowser(server.url, 'login', a.email);
    expect(b.token).not.toBe(a.token);
    expect((await me(bearer(b.token))).status).toBe(200);

    const out = await logout(bearer(b.token));
    expect(out.status).toBe(200);
    const after = await me(bearer(b.token));
    expect(after.status).toBe(401);
    expect(await errorCode(after)).toBe('UNAUTHENTICATED');
    // The other sign-in of the same user is untouched.
    expect((await me(bearer(a.token))).status).toBe(200);
  });

  it('revokes the cookie session server-side at logout (a copied cookie stops working)', async () => {
    const s = await signInAsBrowser(server.url);
    expect(s.setCookie).toMatch(/HttpOnly/i);
    expect(s.setCookie).toMatch(/SameSite=Lax/i);
    expect(s.setCookie).not.toMatch(/Secure/i);
    expect((await me({ cookie: s.cookie })).status).toBe(200);

    const out = await logout({ cookie: s.cookie, origin: server.url });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().join()).toMatch(/clipdock_token=;.*Max-Age=0/);
    expect((await me({ cookie: s.cookie })).status).toBe(401);
    expect((await me(bearer(s.token))).status).toBe(401);
  });

  it('refuses an expired session, and slides the expiry of one in use', async () => {
    const s = await signInAsBrowser(server.url);
    await db()
      .updateTable('auth_sessions')
      .set({ expires_at: sql`now() - interval '1 second'` })
      .where('user_id', '=', s.user.id)
      .execute();
    expect((await me({ cookie: s.cookie })).status).toBe(401);
    expect((await me(bearer(s.token))).status).toBe(401);

    const t = await signInAsBrowser(server.url);
    await db()
      .updateTable('auth_sessions')
      .set({ last_seen_at: sql`now() - interval '2 hours'`, expires_at: sql`now() + interval '1 minute'` })
      .where('user_id', '=', t.user.id)
      .execute();
    expect((await me(bearer(t.token))).status).toBe(200);
    const row = await db()
      .selectFrom('auth_sessions')
      .select(sql<boolean>`expires_at > now() + interval '23 hours'`.as('slid'))
      .where('user_id', '=', t.user.id)
      .executeTakeFirstOrThrow();
    expect(row.slid).toBe(true);
  });

  it('signs out everywhere: every session and login token of the user, nobody else', async () => {
    const a = await signInAsBrowser(server.url);
    const a2 = await signInAsBrowser(server.url, 'login', a.email);
    const other = await signInAsBrowser(server.url);
    const res = await logout({ cookie: a.cookie, origin: server.url }, '/api/auth/logout-all');
    expect(res.status).toBe(200);
    expect((await me({ cookie: a.cookie })).status).toBe(401);
    expect((await me(bearer(a2.token))).status).toBe(401);
    expect((await me(bearer(other.token))).status).toBe(200);
  });
});

describe('live sockets end with their credential', () => {
  const open = async (opts: Parameters<typeof openSocket>[1]) => {
    const r = await openSocket(server.url, opts);
    if (!('ws' in r)) throw new Error(`upgrade refused: ${r.status}`);
    const closed = new Promise<number>((resolve) => r.ws.once('close', (code) => resolve(code)));
    return { ws: r.ws, closed };
  };

  it('closes the sockets of a logged-out session, of every session signed out, of a revoked token', async () => {
    const s = await signInAsBrowser(server.url);
    const other = await signInAsBrowser(server.url, 'login', s.email);
    const created = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(s.token) },
      body: JSON.stringify({ name: 'watcher' }),
    });
    const apiToken = (await created.json()) as { id: string; token: string };
    const minted = await fetch(`${server.url}/api/ws/token`, {
      method: 'POST',
      headers: bearer(apiToken.token),
    });
    const socketToken = ((await minted.json()) as { token: string }).token;

    const byCookie = await open({ headers: { cookie: s.cookie }, origin: server.url });
    const byLogin = await open({ headers: bearer(other.token) });
    const byApiToken = await open({ headers: bearer(apiToken.token) });
    const bySocketToken = await open({ query: `?token=${encodeURIComponent(socketToken)}` });

    expect((await logout(bearer(other.token))).status).toBe(200);
    expect(await byLogin.closed).toBe(4401);
    expect(byCookie.ws.readyState).toBe(byCookie.ws.OPEN);

    expect((await logout({ cookie: s.cookie, origin: server.url }, '/api/auth/logout-all')).status).toBe(200);
    expect(await byCookie.closed).toBe(4401);
    expect(byApiToken.ws.readyState).toBe(byApiToken.ws.OPEN);
    expect(bySocketToken.ws.readyState).toBe(bySocketToken.ws.OPEN);

    // Revoked with a fresh sign-in (the old sessions are gone).
    const again = await signInAsBrowser(server.url, 'login', s.email);
    const del = await fetch(`${server.url}/api/tokens/${apiToken.id}`, {
      method: 'DELETE',
      headers: bearer(again.token),
    });
    expect(del.status).toBe(204);
    expect(await byApiToken.closed).toBe(4401);
    expect(await bySocketToken.closed).toBe(4401);
  });
});

describe('same-origin rule for the cookie', () => {
  it('refuses a cookie-authenticated POST from another origin of the same host', async () => {
    const s = await signInAsBrowser(server.url);
    const refused = await createProject({ cookie: s.cookie, origin: otherOrigin() });
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe('CROSS_ORIGIN_REFUSED');
    const attempts: Array<Record<string, string>> = [
      { cookie: s.cookie, origin: 'null' },
      { cookie: s.cookie }, // neither Origin nor Sec-Fetch-Site: not a browser page of ours
      { cookie: s.cookie, 'sec-fetch-site': 'same-site' },
      { cookie: s.cookie, 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of attempts) {
      expect((await createProject(headers)).status, JSON.stringify(headers)).toBe(403);
    }
    const projects = await fetch(`${server.url}/api/projects`, { headers: { cookie: s.cookie } });
    expect(((await projects.json()) as { projects: unknown[] }).projects).toHaveLength(1);

    expect((await createProject({ cookie: s.cookie, origin: server.url })).status).toBe(201);
    expect((await createProject({ cookie: s.cookie, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    // Scripts send a bearer token, which no other page can make a browser send: no origin rule.
    expect((await createProject({ ...bearer(s.token), origin: otherOrigin() })).status).toBe(201);
    // A state change by logout is a state change too.
    expect((await logout({ cookie: s.cookie, origin: otherOrigin() })).status).toBe(403);
    expect((await me({ cookie: s.cookie })).status).toBe(200);
  });

  it('refuses a cross-origin WebSocket upgrade with a valid cookie; a same-origin one works', async () => {
    const s = await signInAsBrowser(server.url);
    const cross = await openSocket(server.url, { headers: { cookie: s.cookie }, origin: otherOrigin() });
    expect(cross).toEqual({ status: 403 });
    const noOrigin = await openSocket(server.url, { headers: { cookie: s.cookie } });
    expect(noOrigin).toEqual({ status: 403 });

    const same = await openSocket(server.url, { headers: { cookie: s.cookie }, origin: server.url });
    if (!('ws' in same)) throw new Error(`same-origin upgrade refused: ${same.status}`);
    expect(await same.first).toMatchObject({ type: expect.any(String) });
    same.ws.close();
    // Scripts: the Authorization header, from anywhere.
    const script = await openSocket(server.url, { headers: bearer(s.token), origin: otherOrigin() });
    if (!('ws' in script)) throw new Error(`bearer upgrade refused: ${script.status}`);
    script.ws.close();
  });

  it('takes the app origin from PUBLIC_URL when set, and marks the cookie Secure over https', async () => {
    const node = await startNode({ ...server.env, PUBLIC_URL: 'https://clipdock.example' });
    try {
      const address = node.http!.app.server.address() as { port: number };
      const url = `http://127.0.0.1:${address.port}`;
      const s = await signInAsBrowser(url);
      expect(s.setCookie).toMatch(/; Secure/i);
      const post = (origin: string) =>
        fetch(`${url}/api/projects`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie: s.cookie, origin },
          body: JSON.stringify({ name: 'x' }),
        });
      // The Host this request reached is not the public origin: only PUBLIC_URL counts.
      expect((await post(url)).status).toBe(403);
      expect((await post('https://clipdock.example')).status).toBe(201);
    } finally {
      await node.stop();
    }
  });
});

describe('tokens in URLs', () => {
  it('accepts a login token in ?token= for nothing', async () => {
    const s = await signInAsBrowser(server.url);
    const q = `?token=${encodeURIComponent(s.token)}`;
    const meRes = await fetch(`${server.url}/api/me${q}`);
    expect(meRes.status).toBe(401);
    expect(await errorCode(meRes)).toBe('UNAUTHENTICATED');
    const post = await fetch(`${server.url}/api/projects${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'via url' }),
    });
    expect(post.status).toBe(401);
    const del = await fetch(`${server.url}/api/videos/00000000-0000-4000-8000-000000000000${q}`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(401);
    expect((await fetch(`${server.url}/api/auth/logout-all${q}`, { method: 'POST' })).status).toBe(401);
    expect(await openSocket(server.url, { query: q })).toEqual({ status: 401 });
    // Nothing was changed by any of it.
    expect((await me(bearer(s.token))).status).toBe(200);
  });

  it('opens the live socket with the short-lived signed token the API hands out, and only that', async () => {
    const s = await signInAsBrowser(server.url);
    const res = await fetch(`${server.url}/api/ws/token`, { method: 'POST', headers: bearer(s.token) });
    expect(res.status).toBe(200);
    const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    const ok = await openSocket(server.url, { query: `?token=${encodeURIComponent(token)}` });
    if (!('ws' in ok)) throw new Error(`signed token refused: ${ok.status}`);
    expect(await ok.first).toMatchObject({ type: expect.any(String) });
    ok.ws.close();

    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect(await openSocket(server.url, { query: `?token=${encodeURIComponent(tampered)}` })).toEqual({
      status: 401,
    });
    const session = await db()
      .selectFrom('auth_sessions')
      .select('id')
      .where('user_id', '=', s.user.id)
      .executeTakeFirstOrThrow();
    const expired = new Signer(SECRET).socketToken(
      s.user.id,
      { kind: 'session', id: session.id },
      Math.floor(Date.now() / 1000) - 1,
    );
    expect(await openSocket(server.url, { query: `?token=${encodeURIComponent(expired)}` })).toEqual({
      status: 401,
    });
    // The socket token opens the socket and nothing else.
    expect((await me(bearer(token))).status).toBe(401);
    // Minting one with the cookie is a state change: same origin only.
    const cross = await fetch(`${server.url}/api/ws/token`, {
      method: 'POST',
      headers: { cookie: s.cookie, origin: otherOrigin() },
    });
    expect(cross.status).toBe(403);
  });
});
