import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    STARTING_CREDITS: '250',
    ACCEPTED_VIDEO_EXTENSIONS: 'mp4,MOV',
    MAX_FILE_BYTES: '5000000',
  });
});
afterAll(async () => {
  await server?.stop();
});

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('accounts', () => {
  it('reports health', async () => {
    const res = await fetch(`${server.url}/api/health`);
    expect(res.status).toBe(200);
    // The contract's {"status":"ok"}, plus the media tools' release on a node that runs them.
    expect(await res.json()).toEqual({
      status: 'ok',
      media: { ffmpeg: expect.any(String), ffprobe: expect.any(String) },
    });
  });

  it('signs up, logs in, and knows the user', async () => {
    const res = await post('/api/auth/signup', {
      email: 'Alice@Example.com',
      password: 'correct horse battery',
    });
    expect(res.status).toBe(201);
    const { token, user } = (await res.json()) as { token: string; user: { id: string; email: string } };
    expect(token).toMatch(/^cdk_/);
    expect(user.email).toBe('Alice@Example.com');

    const login = await post('/api/auth/login', {
      email: 'alice@example.com',
      password: 'correct horse battery',
    });
    expect(login.status).toBe(200);
    const loggedIn = (await login.json()) as { token: string; user: { id: string } };
    expect(loggedIn.user.id).toBe(user.id);
    expect(loggedIn.token).not.toBe(token);

    const me = await fetch(`${server.url}/api/me`, {
      headers: { authorization: `Bearer ${loggedIn.token}` },
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      user: { id: user.id },
      credits: { balance: 250, reserved: 0 },
      storage: { usedBytes: 0 },
      // The browser pre-checks files against the server's own limits.
      limits: {
        acceptedExtensions: ['mp4', 'mov'],
        maxFileBytes: 5_000_000,
        creditsPerVideo: 10,
        // On local disk: 10 MiB (on S3, whole parts: test/uploads/s3.test.ts).
        uploadChunkBytes: 10 * 1024 * 1024,
      },
    });
  });

  it('refuses a duplicate email, a wrong password and bad input with clear codes', async () => {
    await post('/api/auth/signup', { email: 'bob@example.com', password: 'correct horse battery' });
    const dup = await post('/api/auth/signup', { email: 'BOB@example.com', password: 'another password' });
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as { error: { code: string } }).error.code).toBe('EMAIL_TAKEN');

    const wrong = await post('/api/auth/login', { email: 'bob@example.com', password: 'wrong password' });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('INVALID_CREDENTIALS');

    const bad = await post('/api/auth/signup', { email: 'not-an-email', password: 'short' });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { error: { code: string; message: string } };
    expect(badBody.error.code).toBe('VALIDATION_FAILED');
    expect(badBody.error.message).toMatch(/email/);
    expect(badBody.error.message).toMatch(/password/);

    const notJson = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
  });

  it('gives every user a default project, and needs a token', async () => {
    const alice = await signUp(server.url);
    const res = await alice.api('/api/projects');
    const { projects } = (await res.json()) as { projects: Array<{ name: string; isDefault: boolean }> };
    expect(projects).toHaveLength(1);
    expect(projects[0]?.isDefault).toBe(true);

    const anonymous = await fetch(`${server.url}/api/projects`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    const forged = await fetch(`${server.url}/api/me`, { headers: { authorization: 'Bearer cdk_forged' } });
    expect(forged.status).toBe(401);
  });
});
