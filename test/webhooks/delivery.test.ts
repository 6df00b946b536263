import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepWebhookDeliveries } from '../../src/webhooks/sweep.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { BAD_FILES, makeGood } from '../media/fixtures.ts';
import { uploadedVideo, waitForStatus } from '../processing/helpers.ts';
import { createSession, startTus, waitFor } from '../uploads/helpers.ts';
import { addWebhook, deliveries, startReceiver, verified } from './helpers.ts';

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
    expect(hook.events).toEqual([
      'video.uploaded',
      'video.ready',
      'video.failed',
      'video.deleted',
      'video.analysis.ready',
    ]);

    const body = await readFile(clip);
    const session = await createSession(user.api, [{ name: 'phone.mov', size: body.length }]);
    const file = session.files[0]!;
    await startTus(body, { token: user.token, file }).done;
    await waitForStatus(server.node.ctx.db, file.videoId, ['ready']);

    const mine = () => receiver.received.filter((r) => r.path === '/ready');
    // Three deliveries, three jobs: they may arrive in any order. The enrichment that follows
    // `ready` is announced once, when it is done (its progress events are not news).
    await waitFor(async () => mine().length >= 3, 60_000);
    expect(mine()).toHaveLength(3);
    const events = mine().map((r) => verified(hook.secret, r));
    expect(events.map((e) => e.type).sort()).toEqual([
      'video.analysis.ready',
      'video.ready',
      'video.uploaded',
    ]);
    for (const e of events) {
      expect(e.data.id).toBe(file.videoId);
      expect(e.data.name).toBe('phone.mov');
      expect(e.data.status).toBe(e.type === 'video.uploaded' ? 'uploaded' : 'ready');
    }
    const analysed = events.find((e) => e.type === 'video.analysis.ready')!;
    expect((analysed.data as { analysis?: unknown }).analysis).toMatchObject({
      status: 'ready',
      progress: 100,
    });

    // The signature covers the body: one changed byte and the verifier refuses it.
    const ready = mine().find((r) => JSON.parse(r.body).type === 'video.ready')!;
    const tampered = { ...ready, body: ready.body.replace('"status":"ready"', '"status":"failed"') };
    expect(tampered.body).not.toBe(ready.body);
    expect(() => verified(hook.secret, tampered)).toThrow();
    // Another webhook's secret does not verify it either.
    const other = await addWebhook(user.api, { url: `${receiver.base}/other`, events: ['video.failed'] });
    expect(() => verified(other.secret, mine()[0]!)).toThrow();

    const log = await waitFor(async () => {
      const d = await deliveries(user.api, hook.id);
      return d.length === 3 && d.every((x) => x.status === 'delivered') && d;
    });
    expect(log.map((d) => d.event)).toEqual(['video.analysis.ready', 'video.ready', 'video.uploaded']);
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
    expect((await deliveries(user.api, hook.id)).length).toBe(3);
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
    // The attempts are counted for Prometheus too.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = (outcome: string) =>
      Number(
        new RegExp(`^clipdock_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(
          metrics,
        )?.[1] ?? 0,
      );
    expect(count('retry')).toBeGreaterThanOrEqual(2);
    expect(count('delivered')).toBeGreaterThanOrEqual(1);
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
      // By name: the attempt resolves it, checks and pins the answer (the other tests use an IP).
      url: `${receiver.base.replace('127.0.0.1', 'localhost')}/failed`,
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

  it('gives a job back to a pending delivery whose job gave up and prunes old finished ones (requeue_webhooks sweep)', async () => {
    const user = await signUp(server.url);
    const hook = await addWebhook(user.api, { url: `${receiver.base}/stranded`, events: ['video.deleted'] });
    const db = server.node.ctx.db;
    const stranded = await db
      .insertInto('webhook_deliveries')
      .values({
        webhook_id: hook.id,
        event_type: 'video.deleted',
        video_id: '00000000-0000-4000-8000-000000000001',
        payload: JSON.stringify({ type: 'video.deleted', timestamp: new Date().toISOString(), data: {} }),
        next_attempt_at: new Date(Date.now() - 3600_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    // Not yet due: left alone.
    const notDue = await db
      .insertInto('webhook_deliveries')
      .values({
        webhook_id: hook.id,
        event_type: 'video.deleted',
        video_id: '00000000-0000-4000-8000-000000000002',
        payload: JSON.stringify({ type: 'video.deleted', timestamp: new Date().toISOString(), data: {} }),
        next_attempt_at: new Date(Date.now() + 3600_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    // Delivered 31 days ago: out of the log.
    const old = await db
      .insertInto('webhook_deliveries')
      .values({
        webhook_id: hook.id,
        event_type: 'video.deleted',
        video_id: '00000000-0000-4000-8000-000000000003',
        payload: JSON.stringify({ type: 'video.deleted', timestamp: new Date().toISOString(), data: {} }),
        status: 'delivered',
        created_at: new Date(Date.now() - 31 * 86400_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const swept = await sweepWebhookDeliveries(server.node.ctx);
    expect(swept.requeued).toEqual([stranded.id]);
    expect(swept.pruned).toBeGreaterThanOrEqual(1);
    expect((await deliveries(user.api, hook.id)).map((d) => d.id)).not.toContain(old.id);
    await waitFor(async () => {
      const log = await deliveries(user.api, hook.id);
      return log.find((d) => d.id === stranded.id)?.status === 'delivered';
    });
    const received = receiver.received.filter((r) => r.path === '/stranded');
    expect(received.map((r) => r.headers['webhook-id'])).toEqual([`msg_${stranded.id}`]);
    expect(verified(hook.secret, received[0]!).type).toBe('video.deleted');
    const later = (await deliveries(user.api, hook.id)).find((d) => d.id === notDue.id);
    expect(later).toMatchObject({ status: 'pending', attempts: 0 });
  });

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

  it('refuses URLs that are not http(s) or do not resolve, unknown or no events, and projects of another user', async () => {
    const user = await signUp(server.url);
    const stranger = await signUp(server.url);
    for (const url of ['ftp://example.com/hook', 'file:///etc/passwd', 'not a url', 'javascript:alert(1)']) {
      const res = await user.api('/api/webhooks', { method: 'POST', body: JSON.stringify({ url }) });
      expect(res.status, url).toBe(422);
      expect((await res.json()).error.code).toBe('WEBHOOK_URL_INVALID');
    }
    // .invalid never resolves (RFC 2606).
    const unresolvable = await user.api('/api/webhooks', {
      method: 'POST',
      body: JSON.stringify({ url: 'https://hooks.example.invalid/clipdock' }),
    });
    expect(unresolvable.status).toBe(422);
    expect((await unresolvable.json()).error.code).toBe('WEBHOOK_URL_UNRESOLVABLE');
    for (const events of [[], ['video.exploded']]) {
      const res = await user.api('/api/webhooks', {
        method: 'POST',
        body: JSON.stringify({ url: `${receiver.base}/e`, events }),
      });
      expect(res.status, JSON.stringify(events)).toBe(400);
      expect((await res.json()).error.code).toBe('VALIDATION_FAILED');
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
