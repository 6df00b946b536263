import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { BAD_FILES, makeGood } from '../media/fixtures.ts';
import { uploadedVideo, waitForStatus } from '../processing/helpers.ts';
import { createSession, startTus, waitFor } from '../uploads/helpers.ts';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A webhook receiver on loopback, as an integrator runs one. `/flaky` answers 500 to its first
 * two requests, then 200; every other path answers 200.
 */
async function startReceiver() {
  const received: Received[] = [];
  let flakyCalls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (req.url === '/redirect') {
        res.writeHead(307, { location: '/landed' });
        res.end();
        return;
      }
      if (req.url === '/silent') return; // never answers
      if (req.url === '/endless') {
        // An answer that never ends: the sender must stop reading, not buffer it all.
        res.writeHead(500, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      if (req.url === '/flaky' && ++flakyCalls <= 2) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('receiver is down for maintenance');
        return;
      }
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return { base, received, close };
}

/** Verifies with the Standard Webhooks reference verifier; returns the parsed payload. */
function verified(secret: string, r: Received) {
  const headers = {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(r.body, headers) as {
    type: string;
    timestamp: string;
    data: { id: string; status: string; name?: string };
  };
}

type Api = Awaited<ReturnType<typeof signUp>>['api'];

async function addWebhook(api: Api, body: Record<string, unknown>) {
  const res = await api('/api/webhooks', { method: 'POST', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; secret: string; events: string[] };
}

async function deliveries(api: Api, webhookId: string) {
  const res = await api(`/api/webhooks/${webhookId}/deliveries`);
  expect(res.status).toBe(200);
  return (
    (await res.json()) as {
      deliveries: Array<{
        id: string;
        event: string;
        videoId: string;
        status: string;
        attempts: number;
        lastStatusCode: number | null;
        error: string | null;
        lastAttemptAt: string | null;
        deliveredAt: string | null;
      }>;
    }
  ).deliveries;
}

describe('outgoing webhooks (WEBHOOK_ALLOW_PRIVATE=true)', () => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dir: string;
  let clip: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-webhooks-'));
    [server, receiver, clip] = await Promise.all([
      startTestServer({
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_RETRY_BASE_SECONDS: '0.5',
        WEBHOOK_TIMEOUT_SECONDS: '2',
      }),
      startReceiver(),
      makeGood('h264_aac_mov', dir),
    ]);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('announces an upload and its processing to ready, signed so a Standard Webhooks verifier accepts it', async () => {
    const user = await signUp(server.url);
    const hook = await addWebhook(user.api, { url: `${receiver.base}/ready` });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(hook.events).toEqual(['video.uploaded', 'video.ready', 'video.failed', 'video.deleted']);

    const body = await readFile(clip);
    const session = await createSession(user.api, [{ name: 'phone.mov', size: body.length }]);
    const file = session.files[0]!;
    await startTus(body, { token: user.token, file }).done;
    await waitForStatus(server.node.ctx.db, file.videoId, ['ready']);

    const mine = () => receiver.received.filter((r) => r.path === '/ready');
    await waitFor(async () => mine().some((r) => JSON.parse(r.body).type === 'video.ready'), 60_000);
    const events = mine().map((r) => verified(hook.secret, r));
    expect(events.map((e) => e.type)).toEqual(['video.uploaded', 'video.ready']);
    for (const e of events) {
      expect(e.data.id).toBe(file.videoId);
      expect(e.data.name).toBe('phone.mov');
    }
    expect(events.map((e) => e.data.status)).toEqual(['uploaded', 'ready']);

    // The signature covers the body: one changed byte and the verifier refuses it.
    const tampered = { ...mine()[1]!, body: mine()[1]!.body.replace('ready', 'failed') };
    expect(() => verified(hook.secret, tampered)).toThrow();
    // Another webhook's secret does not verify it either.
    const other = await addWebhook(user.api, { url: `${receiver.base}/other`, events: ['video.failed'] });
    expect(() => verified(other.secret, mine()[0]!)).toThrow();

    const log = await waitFor(async () => {
      const d = await deliveries(user.api, hook.id);
      return d.length === 2 && d.every((x) => x.status === 'delivered') && d;
    });
    expect(log.map((d) => d.event)).toEqual(['video.ready', 'video.uploaded']);
    for (const d of log) {
      expect(d).toMatchObject({ videoId: file.videoId, attempts: 1, lastStatusCode: 200, error: null });
      expect(mine().some((r) => r.headers['webhook-id'] === `msg_${d.id}`)).toBe(true);
    }
    // A rename repeats the status (ready): not news, so no delivery (rows are written in the
    // rename's own transaction, so the log is complete once it answers).
    const renamed = await user.api(`/api/videos/${file.videoId}`, {
      method: 'PATCH',
      body: JSON.stringify({ name: 'renamed.mov' }),
    });
    expect(renamed.status).toBe(200);
    expect((await deliveries(user.api, hook.id)).length).toBe(2);
    // The list never shows a secret.
    const listed = await (await user.api('/api/webhooks')).json();
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    expect(listed.webhooks.map((w: { id: string }) => w.id)).toEqual([hook.id, other.id]);
  }, 150_000);

  it('retries a receiver that fails twice until the third try gets video.deleted, and logs the attempts', async () => {
    const user = await signUp(server.url);
    const hook = await addWebhook(user.api, { url: `${receiver.base}/flaky`, events: ['video.deleted'] });
    const videoId = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    const del = await user.api(`/api/videos/${videoId}`, { method: 'DELETE' });
    expect(del.status).toBe(204);

    const flaky = () => receiver.received.filter((r) => r.path === '/flaky');
    await waitFor(async () => flaky().length >= 3, 60_000);
    const [d] = await waitFor(async () => {
      const log = await deliveries(user.api, hook.id);
      return log[0]?.status === 'delivered' && log;
    });
    expect(d).toMatchObject({
      event: 'video.deleted',
      videoId,
      attempts: 3,
      lastStatusCode: 200,
      error: null,
    });
    expect(d!.deliveredAt).not.toBeNull();
    // Every try is the same message (receivers dedupe on webhook-id), each signed afresh.
    expect(new Set(flaky().map((r) => r.headers['webhook-id']))).toEqual(new Set([`msg_${d!.id}`]));
    for (const r of flaky()) {
      const e = verified(hook.secret, r);
      expect(e.type).toBe('video.deleted');
      expect(e.data).toMatchObject({ id: videoId, status: 'deleted' });
    }

    // Manual redelivery: one more attempt of the same message.
    const again = await user.api(`/api/webhooks/${hook.id}/deliveries/${d!.id}/redeliver`, {
      method: 'POST',
    });
    expect(again.status).toBe(202);
    await waitFor(async () => flaky().length === 4);
    const [after] = await waitFor(async () => {
      const log = await deliveries(user.api, hook.id);
      return log[0]?.attempts === 4 && log[0].status === 'delivered' && log;
    });
    expect(after).toMatchObject({ id: d!.id, lastStatusCode: 200 });
    expect(flaky()[3]!.headers['webhook-id']).toBe(`msg_${d!.id}`);
  }, 120_000);

  it('follows no redirect, gives up on a silent receiver, and stops reading an endless answer', async () => {
    const user = await signUp(server.url);
    const hooks = new Map<string, string>();
    for (const p of ['/redirect', '/silent', '/endless']) {
      hooks.set(
        p,
        (await addWebhook(user.api, { url: `${receiver.base}${p}`, events: ['video.deleted'] })).id,
      );
    }
    const videoId = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    expect((await user.api(`/api/videos/${videoId}`, { method: 'DELETE' })).status).toBe(204);

    const firstAttempt = (p: string) =>
      waitFor(async () => {
        const [d] = await deliveries(user.api, hooks.get(p)!);
        return d && d.attempts >= 1 && d;
      }, 60_000);
    const redirected = await firstAttempt('/redirect');
    expect(redirected).toMatchObject({ status: 'pending', lastStatusCode: 307 });
    expect(redirected.error).toMatch(/redirect to \/landed not followed/);
    expect(receiver.received.some((r) => r.path === '/landed')).toBe(false);

    const silent = await firstAttempt('/silent');
    expect(silent).toMatchObject({ status: 'pending', lastStatusCode: null });
    expect(silent.error).toMatch(/no answer within 2 s/);

    const endless = await firstAttempt('/endless');
    expect(endless).toMatchObject({ status: 'pending', lastStatusCode: 500 });
    expect(endless.error).toMatch(/^HTTP 500: x+$/);
  }, 90_000);

  it('announces a failed video as video.failed, and only to webhooks of its project', async () => {
    const user = await signUp(server.url);
    const db = server.node.ctx.db;
    const home = await db
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', user.user.id)
      .executeTakeFirstOrThrow();
    const elsewhere = await db
      .insertInto('projects')
      .values({ user_id: user.user.id, name: 'Elsewhere' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const failedOnly = await addWebhook(user.api, {
      url: `${receiver.base}/failed`,
      events: ['video.failed'],
      projectId: home.id,
    });
    const otherProject = await addWebhook(user.api, {
      url: `${receiver.base}/elsewhere`,
      projectId: elsewhere.id,
    });
    const audio = path.join(dir, 'song.m4a');
    await BAD_FILES.audio_only!.make(audio, dir);
    const videoId = await uploadedVideo(server, user.user.id, audio);
    await waitForStatus(db, videoId, ['failed']);

    const [d] = await waitFor(async () => {
      const log = await deliveries(user.api, failedOnly.id);
      return log[0]?.status === 'delivered' && log;
    }, 60_000);
    expect(d).toMatchObject({ event: 'video.failed', videoId, attempts: 1 });
    const got = receiver.received
      .filter((r) => r.path === '/failed')
      .map((r) => verified(failedOnly.secret, r));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      type: 'video.failed',
      data: { id: videoId, status: 'failed', error: { code: 'NO_VIDEO_STREAM' } },
    });
    // Deleting it is not a failure, and the other project's webhook hears of neither.
    expect((await user.api(`/api/videos/${videoId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await deliveries(user.api, failedOnly.id)).length).toBe(1);
    expect(await deliveries(user.api, otherProject.id)).toEqual([]);
  }, 120_000);

  it("answers 404 for another user's webhook and its deliveries", async () => {
    const owner = await signUp(server.url);
    const stranger = await signUp(server.url);
    const hook = await addWebhook(owner.api, { url: `${receiver.base}/owned` });
    const fakeDelivery = '00000000-0000-4000-8000-000000000000';
    for (const [method, p] of [
      ['GET', `/api/webhooks/${hook.id}/deliveries`],
      ['POST', `/api/webhooks/${hook.id}/deliveries/${fakeDelivery}/redeliver`],
      ['DELETE', `/api/webhooks/${hook.id}`],
    ] as const) {
      const res = await stranger.api(p, { method });
      expect(res.status, `${method} ${p}`).toBe(404);
      expect((await res.json()).error.code).toBe('WEBHOOK_NOT_FOUND');
    }
    expect((await (await stranger.api('/api/webhooks')).json()).webhooks).toEqual([]);
    // Still there for its owner, who can delete it.
    expect((await owner.api(`/api/webhooks/${hook.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await owner.api(`/api/webhooks/${hook.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses URLs that are not http(s), and projects of another user', async () => {
    const user = await signUp(server.url);
    const stranger = await signUp(server.url);
    for (const url of ['ftp://example.com/hook', 'file:///etc/passwd', 'not a url', 'javascript:alert(1)']) {
      const res = await user.api('/api/webhooks', { method: 'POST', body: JSON.stringify({ url }) });
      expect(res.status, url).toBe(422);
      expect((await res.json()).error.code).toBe('WEBHOOK_URL_INVALID');
    }
    const project = await server.node.ctx.db
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', stranger.user.id)
      .executeTakeFirstOrThrow();
    const res = await user.api('/api/webhooks', {
      method: 'POST',
      body: JSON.stringify({ url: `${receiver.base}/p`, projectId: project.id }),
    });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('PROJECT_NOT_FOUND');
  });
});

describe('webhook URLs to private addresses (WEBHOOK_ALLOW_PRIVATE unset)', () => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dir: string;
  let clip: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-webhooks-'));
    [server, receiver, clip] = await Promise.all([
      startTestServer(),
      startReceiver(),
      makeGood('h264_aac_mov', dir),
    ]);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses them at creation with WEBHOOK_URL_PRIVATE', async () => {
    const user = await signUp(server.url);
    for (const url of [
      `${receiver.base}/hook`,
      'http://localhost:9/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.1.2.3/hook',
      'http://[::1]:9/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[fd00:ec2::254]/hook',
      'https://0.0.0.0/hook',
    ]) {
      const res = await user.api('/api/webhooks', { method: 'POST', body: JSON.stringify({ url }) });
      expect(res.status, url).toBe(422);
      expect((await res.json()).error.code, url).toBe('WEBHOOK_URL_PRIVATE');
    }
    expect((await (await user.api('/api/webhooks')).json()).webhooks).toEqual([]);
  });

  it('refuses them again at delivery time (a name that resolves elsewhere now: DNS rebinding)', async () => {
    const user = await signUp(server.url);
    // As if its host name had resolved to a public address at creation and to loopback now.
    const hook = await server.node.ctx.db
      .insertInto('webhooks')
      .values({
        user_id: user.user.id,
        project_id: null,
        url: `${receiver.base}/rebound`,
        events: ['video.deleted'],
        secret: `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const videoId = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    expect((await user.api(`/api/videos/${videoId}`, { method: 'DELETE' })).status).toBe(204);

    const [d] = await waitFor(async () => {
      const log = await deliveries(user.api, hook.id);
      return log[0] && log[0].attempts >= 1 && log;
    });
    expect(d).toMatchObject({ event: 'video.deleted', status: 'pending', lastStatusCode: null });
    expect(d!.error).toMatch(/^WEBHOOK_URL_PRIVATE/);
    expect(receiver.received).toEqual([]);
  });
});
