import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Who may sign up, security headers, and forwarded headers: a default node (open sign-up, no
 * trusted proxy) and a closed node behind a trusted proxy on 127.0.0.1.
 */
let open: TestServer;
let closed: TestServer;
beforeAll(async () => {
  [open, closed] = await Promise.all([
    startTestServer(),
    startTestServer({ ALLOW_SIGNUP: 'false', TRUST_PROXY: '127.0.0.1' }),
  ]);
});
afterAll(async () => {
  await Promise.all([open?.stop(), closed?.stop()]);
});

const signupRaw = (base: string, email: string) =>
  fetch(`${base}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery' }),
  });

type Me = { user: { id: string; email: string; isAdmin: boolean } };

describe('ALLOW_SIGNUP and the first account', () => {
  it('with ALLOW_SIGNUP=false, the first account is still created (and administers); later ones get 403', async () => {
    const first = await signUp(closed.url, 'owner@example.com');
    const me = (await (await first.api('/api/me')).json()) as Me;
    expect(me.user).toMatchObject({ email: 'owner@example.com', isAdmin: true });

    const res = await signupRaw(closed.url, 'stranger@example.com');
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('SIGNUP_DISABLED');
    expect(body.error.message).toMatch(/administrator/);
    // Nothing was created: the stranger cannot sign in.
    const login = await fetch(`${closed.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'stranger@example.com', password: 'correct horse battery' }),
    });
    expect(login.status).toBe(401);
  });

  it('by default anyone signs up, and only the first account is the admin', async () => {
    const a = await signUp(open.url);
    const b = await signUp(open.url);
    const meA = (await (await a.api('/api/me')).json()) as Me;
    const meB = (await (await b.api('/api/me')).json()) as Me;
    expect(meA.user.isAdmin).toBe(true);
    expect(meB.user.isAdmin).toBe(false);
    expect(meB.user.email).toBe(b.email);
  });
});

const EXPECTED_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
];

function expectSecurityHeaders(res: Response, what: string) {
  const csp = res.headers.get('content-security-policy') ?? '';
  for (const d of EXPECTED_CSP) expect(csp, `${what}: ${d}`).toContain(d);
  expect(csp, what).not.toContain('unsafe-eval');
  expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(res.headers.get('referrer-policy'), what).toBe('no-referrer');
  expect(res.headers.get('x-frame-options'), what).toBe('DENY');
  // Plain http: no HSTS (it would pin a LAN address to https that nothing serves).
  expect(res.headers.get('strict-transport-security'), what).toBeNull();
}

describe('security headers', () => {
  it('are on pages, API answers, errors and 404s', async () => {
    const user = await signUp(open.url);
    const responses: Array<[string, Response]> = [
      ['/', await fetch(`${open.url}/`)],
      ['/library', await fetch(`${open.url}/library`)],
      ['/api/health', await fetch(`${open.url}/api/health`)],
      ['/api/me', await user.api('/api/me')],
      ['/api/me (401)', await fetch(`${open.url}/api/me`)],
      ['/api/nothing (404)', await fetch(`${open.url}/api/nothing`)],
      [
        'bad JSON (400)',
        await fetch(`${open.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{',
        }),
      ],
    ];
    for (const [what, res] of responses) {
      expectSecurityHeaders(res, what);
      await res.arrayBuffer();
    }
    // The live socket's origin is allowed to the page.
    const csp = responses[0]![1].headers.get('content-security-policy')!;
    const host = new URL(open.url).host;
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
  });

  it("leave a route's own stricter policy in place (stored bytes: sandbox; default-src 'none')", async () => {
    // A node's HTTP stack with one more route that sets its own headers, as serve-object.ts does.
    const { buildHttpServer } = await import('../../src/http/app.ts');
    const http = await buildHttpServer(open.node.ctx, [
      (app) => {
        app.get('/api/stored-bytes-like', { config: { public: true } }, (_req, reply) =>
          reply
            .header('content-security-policy', "sandbox; default-src 'none'")
            .header('cross-origin-resource-policy', 'same-origin')
            .type('video/mp4')
            .send(Buffer.from('bytes')),
        );
      },
    ]);
    try {
      const url = await http.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(`${url}/api/stored-bytes-like`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      await res.arrayBuffer();
    } finally {
      await http.close();
    }
  });

  it('let the API reference (Swagger UI) style itself, and nothing more', async () => {
    const res = await fetch(`${open.url}/api/docs/`, { redirect: 'follow' });
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    await res.arrayBuffer();
  });
});

async function uploadEndpoint(base: string, token: string, headers: Record<string, string>) {
  const res = await fetch(`${base}/api/upload-sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ files: [{ name: 'a.mp4', size: 1000, type: 'video/mp4' }] }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { files: Array<{ videoId: string; upload: { endpoint: string } }> };
  const file = body.files[0]!;
  // tus names the upload's URL itself (Location), from the same headers.
  const created = await fetch(`${base}/api/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'tus-resumable': '1.0.0',
      'upload-length': '1000',
      'upload-metadata': `videoId ${Buffer.from(file.videoId).toString('base64')}`,
      ...headers,
    },
  });
  expect(created.status).toBe(201);
  return { endpoint: file.upload.endpoint, location: created.headers.get('location') ?? '' };
}

const FORGED = {
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  forwarded: 'host=evil.example;proto=https',
};

describe('forwarded headers (TRUST_PROXY)', () => {
  it('are ignored by default: a forged X-Forwarded-Host does not become the upload endpoint', async () => {
    const user = await signUp(open.url);
    const { endpoint, location } = await uploadEndpoint(open.url, user.token, FORGED);
    const origin = new URL(open.url).origin;
    expect(endpoint).toBe(`${origin}/api/uploads`);
    expect(location).toMatch(new RegExp(`^${origin}/api/uploads/`));
    expect(`${endpoint} ${location}`).not.toContain('evil.example');
  });

  it('are believed from a proxy TRUST_PROXY names', async () => {
    // Sign-up is closed on this node: use its first account.
    const login = await fetch(`${closed.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'owner@example.com', password: 'correct horse battery' }),
    });
    const { token } = (await login.json()) as { token: string };
    const { endpoint, location } = await uploadEndpoint(closed.url, token, {
      'x-forwarded-host': 'videos.example',
      'x-forwarded-proto': 'https',
    });
    expect(endpoint).toBe('https://videos.example/api/uploads');
    expect(location.startsWith('https://videos.example/api/uploads/')).toBe(true);
  });
});
