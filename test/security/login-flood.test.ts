import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt } from '../browser/harness.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * 200 sign-ins for unknown emails at once (as from many addresses: the per-IP limit is off here)
 * while an honest user loads the app and signs in. Password hashing runs on libuv's thread pool,
 * which file serving shares: unbounded, the home page waited behind every hash.
 */
let server: TestServer;
let base: string;
beforeAll(async () => {
  await ensureWebBuilt();
  server = await startTestServer({ LOGIN_IP_RATE_LIMIT: '0', LOGIN_RATE_LIMIT: '0' });
  // 127.0.0.1, not localhost: resolving a name would itself take a thread-pool slot.
  base = server.url.replace('localhost', '127.0.0.1');
});
afterAll(async () => {
  await server?.stop();
});

const FLOOD = 200;

describe('a flood of sign-ins', () => {
  it('leaves the home page, the API and an honest sign-in working', async () => {
    const honest = await signUp(base);

    let hashedAnswers = 0; // 401s: sign-ins that ran a password check to the end
    const statuses: number[] = [];
    const retryAfters: string[] = [];
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `nobody-${i}@example.com`, password: 'guessing-123' }),
      }).then(async (res) => {
        const body = (await res.json()) as { error?: { code: string } };
        statuses.push(res.status);
        if (res.status === 401) hashedAnswers++;
        if (res.status === 503) {
          expect(body.error?.code).toBe('SERVER_BUSY');
          retryAfters.push(res.headers.get('retry-after') ?? '');
        }
      }),
    );
    const floodDone = Promise.all(flood);
    // Once one answer is back, every flood request has reached the server and queued its hash.
    await Promise.race(flood);

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="root">');
    const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const me = await honest.api('/api/me');
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe(honest.email);
    // The page and the API did not wait for the flood's hashes: most of them were still to come.
    const hashedWhenServed = hashedAnswers;
    expect(hashedWhenServed).toBeLessThan(FLOOD / 4);

    // The honest sign-in goes through, at worst after the Retry-After the server asks for.
    let signedIn: Response | undefined;
    for (let attempt = 0; attempt < 30 && !signedIn; attempt++) {
      const res = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: honest.email, password: 'correct horse battery' }),
      });
      if (res.status === 503) {
        const wait = Number(res.headers.get('retry-after'));
        expect(wait).toBeGreaterThan(0);
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, wait * 1000));
      } else signedIn = res;
    }
    expect(signedIn?.status).toBe(200);
    expect(((await signedIn!.json()) as { user: { id: string } }).user.id).toBe(honest.user.id);

    await floodDone;
    // Every flood request got a 401 (checked) or a 503 SERVER_BUSY with Retry-After (queue full): never a 500.
    expect(statuses.length).toBe(FLOOD);
    expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
    expect(retryAfters.every((r) => Number(r) > 0)).toBe(true);
    // The queue is bounded: not all 200 waited for a hash.
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
  });
});
