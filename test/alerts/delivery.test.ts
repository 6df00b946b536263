import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertMessage, sendAlert } from '../../src/alerts/notify.ts';
import type { AppContext } from '../../src/context.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../uploads/helpers.ts';
import { startReceiver, verified } from '../webhooks/helpers.ts';
import { videoIn } from './helpers.ts';

/**
 * An alert reaches ALERT_WEBHOOK_URL, a receiver on loopback (WEBHOOK_ALLOW_PRIVATE=true), once
 * when it starts firing and once when it resolves, signed with ALERT_WEBHOOK_SECRET; a receiver
 * that fails twice gets it on the third attempt of the worker's job.
 */
describe('alert notifications', () => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const secret = `whsec_${randomBytes(24).toString('base64')}`;

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startTestServer({
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT_SECONDS: '2',
      ALERT_WEBHOOK_URL: `${receiver.base}/flaky`,
      ALERT_WEBHOOK_SECRET: secret,
      ALERT_FAILURE_MIN_COUNT: '1',
      ALERT_DISK_FREE_PERCENT: '0',
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('sends firing once (retried until accepted) and resolved once, signed', async () => {
    const admin = await signUp(server.url);
    const db = server.node.ctx.db;
    const failed = await videoIn(db, admin.user.id, 'failed', {
      errorCode: 'MEDIA_UNREADABLE',
      stored: true,
    });
    const res = await admin.api('/api/admin/alerts/evaluate', { method: 'POST' });
    expect(res.status).toBe(200);
    const alert = await db
      .selectFrom('alerts')
      .selectAll()
      .where('rule', '=', 'failure_rate')
      .where('state', '=', 'firing')
      .executeTakeFirstOrThrow();

    // The receiver answers 500 twice, then 200: the job retries with graphile-worker's backoff.
    await waitFor(async () => receiver.received.length >= 3, 90_000);
    const firing = receiver.received.slice(0, 3);
    expect(new Set(firing.map((r) => r.headers['webhook-id']))).toEqual(
      new Set([`alert_${alert.id}_firing`]),
    );
    const msg = verified(secret, firing[2]!) as unknown as AlertMessage;
    expect(msg.type).toBe('alert.firing');
    expect(msg.alert).toMatchObject({ id: alert.id, rule: 'failure_rate', state: 'firing' });
    expect(msg.alert.details).toMatchObject({ failed: 1, total: 1, byCode: { MEDIA_UNREADABLE: 1 } });
    await waitFor(async () => {
      const row = await db
        .selectFrom('alerts')
        .selectAll()
        .where('id', '=', alert.id)
        .executeTakeFirstOrThrow();
      return row.notified_firing_at !== null && row.last_notify_error === null;
    }, 20_000);

    // Evaluated again while still firing: nothing new to send (the evaluation enqueues in its
    // own transaction, so any new job would exist once the request answered).
    const pending = async () =>
      (
        await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'send_alert'`.execute(
          db,
        )
      ).rows[0]!.n;
    await waitFor(async () => (await pending()) === 0, 20_000);
    await admin.api('/api/admin/alerts/evaluate', { method: 'POST' });
    expect(await pending()).toBe(0);
    expect(receiver.received).toHaveLength(3);

    // The failure is gone: one resolved message.
    await db.deleteFrom('videos').where('id', '=', failed).execute();
    await admin.api('/api/admin/alerts/evaluate', { method: 'POST' });
    await waitFor(async () => receiver.received.length >= 4, 60_000);
    const resolved = verified(secret, receiver.received[3]!) as unknown as AlertMessage;
    expect(receiver.received[3]!.headers['webhook-id']).toBe(`alert_${alert.id}_resolved`);
    expect(resolved.type).toBe('alert.resolved');
    expect(resolved.alert).toMatchObject({ id: alert.id, state: 'resolved' });
    expect(resolved.alert.resolvedAt).not.toBeNull();

    const listed = (await (await admin.api('/api/admin/alerts')).json()) as {
      firing: unknown[];
      history: Array<{ id: string; notifiedFiringAt: string | null }>;
    };
    expect(listed.history.find((a) => a.id === alert.id)?.notifiedFiringAt).not.toBeNull();
  }, 180_000);
  it('refuses a loopback ALERT_WEBHOOK_URL unless WEBHOOK_ALLOW_PRIVATE=true, as webhooks do', async () => {
    const ctx = server.node.ctx;
    const strict: AppContext = {
      ...ctx,
      config: { ...ctx.config, webhooks: { ...ctx.config.webhooks, allowPrivate: false } },
    };
    const row = await ctx.db
      .insertInto('alerts')
      // Resolved already, so the node's own evaluation (every minute) leaves it alone.
      .values({
        rule: 'queue_age',
        subject: 'ssrf-check',
        summary: 'test',
        details: '{}',
        state: 'resolved',
        resolved_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const before = receiver.received.length;
    await expect(sendAlert(strict, row.id, 'firing')).rejects.toThrow(/WEBHOOK_URL_PRIVATE/);
    expect(receiver.received).toHaveLength(before);
    const after = await ctx.db
      .selectFrom('alerts')
      .selectAll()
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    expect(after.notified_firing_at).toBeNull();
    expect(after.last_notify_error).toMatch(/^WEBHOOK_URL_PRIVATE/);
    await ctx.db.deleteFrom('alerts').where('id', '=', row.id).execute();
  });
});
