import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateAlerts } from '../../src/alerts/evaluate.ts';
import type { AlertView } from '../../src/alerts/list.ts';
import type { AppContext } from '../../src/context.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { age, videoIn } from './helpers.ts';

/**
 * Each alert rule against a state built for real in PostgreSQL (and the data dir's file
 * system), through the admin API: it fires, stays one alert while the state lasts, and
 * resolves when the state is gone. An API-only node: no worker repairs the states meanwhile.
 */
let server: TestServer;
let admin: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    ALERT_FAILURE_RATE_PERCENT: '50',
    ALERT_FAILURE_MIN_COUNT: '3',
    ALERT_WINDOW_MINUTES: '15',
    ALERT_QUEUE_AGE_MINUTES: '10',
    STORAGE_QUOTA_BYTES: '1000000',
    // The machine's disk may be of any fullness: the disk rule is tested with its own thresholds.
    ALERT_DISK_FREE_PERCENT: '0',
  });
  admin = await signUp(server.url); // the first account administers
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

type Listing = { firing: AlertView[]; history: AlertView[] };
async function evaluate(): Promise<Listing> {
  const res = await admin.api('/api/admin/alerts/evaluate', { method: 'POST' });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Listing;
}
const firingOf = (l: Listing, rule: string) => l.firing.filter((a) => a.rule === rule);

describe('alert rules', () => {
  it('are for administrators only', async () => {
    const other = await signUp(server.url);
    for (const [path, method] of [
      ['/api/admin/alerts', 'GET'],
      ['/api/admin/alerts/evaluate', 'POST'],
      ['/api/admin/analytics', 'GET'],
    ] as const) {
      const res = await other.api(path, { method });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ADMIN_ONLY');
    }
  });

  it('failure rate: fires above the threshold with enough finished videos, resolves when the rate drops', async () => {
    const db = server.node.ctx.db;
    const user = await signUp(server.url);
    await videoIn(db, user.user.id, 'failed', { errorCode: 'MEDIA_UNREADABLE', stored: true });
    await videoIn(db, user.user.id, 'failed', { errorCode: 'MEDIA_UNREADABLE', stored: true });
    // Two failures out of two: under the minimum count, no trend yet.
    expect(firingOf(await evaluate(), 'failure_rate')).toHaveLength(0);

    await videoIn(db, user.user.id, 'ready');
    let l = await evaluate();
    expect(firingOf(l, 'failure_rate')).toHaveLength(1);
    const alert = firingOf(l, 'failure_rate')[0]!;
    expect(alert.details).toMatchObject({ failed: 2, total: 3, byCode: { MEDIA_UNREADABLE: 2 } });
    expect(alert.summary).toContain('2 of 3');

    // Still failing: the same alert, seen again.
    l = await evaluate();
    expect(firingOf(l, 'failure_rate').map((a) => a.id)).toEqual([alert.id]);

    // 2 failures of 4 is 50 %: not above the threshold.
    await videoIn(db, user.user.id, 'ready');
    l = await evaluate();
    expect(firingOf(l, 'failure_rate')).toHaveLength(0);
    const resolved = l.history.find((a) => a.id === alert.id)!;
    expect(resolved.state).toBe('resolved');
    expect(resolved.resolvedAt).not.toBeNull();
    expect(Date.parse(resolved.resolvedAt!)).toBeGreaterThanOrEqual(Date.parse(resolved.firstFiredAt));
    // No ALERT_WEBHOOK_URL: nothing queued to send.
    const jobs = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'send_alert'`.execute(db);
    expect(jobs.rows[0]!.n).toBe(0);
    // Old failures fall out of the window: they are not counted.
    await sql`UPDATE videos SET status = 'failed', error_code = 'X' WHERE user_id = ${user.user.id}`.execute(
      db,
    );
    await sql`UPDATE videos SET updated_at = now() - interval '1 hour' WHERE user_id = ${user.user.id}`.execute(
      db,
    );
    expect(firingOf(await evaluate(), 'failure_rate')).toHaveLength(0);
  });

  it('queue age: fires when a due job waited too long, resolves when it is gone', async () => {
    const db = server.node.ctx.db;
    // No worker runs on this node, so the job waits as it would behind a stopped worker pool.
    await sql`
      SELECT graphile_worker.add_job('expire_uploads', '{}'::json, run_at := now() - interval '30 minutes',
                                     job_key := 'alerts-test-aged')`.execute(db);
    let l = await evaluate();
    expect(firingOf(l, 'queue_age')).toHaveLength(1);
    expect(firingOf(l, 'queue_age')[0]!.details).toMatchObject({ task: 'expire_uploads', waiting: 1 });
    expect(firingOf(l, 'queue_age')[0]!.details.ageSeconds as number).toBeGreaterThanOrEqual(30 * 60);

    await sql`SELECT graphile_worker.remove_job('alerts-test-aged')`.execute(db);
    l = await evaluate();
    expect(firingOf(l, 'queue_age')).toHaveLength(0);
    expect(l.history.some((a) => a.rule === 'queue_age')).toBe(true);
  });

  it('video stuck: processing with no heartbeat, or uploaded and never queued; resolves once repaired', async () => {
    const db = server.node.ctx.db;
    const user = await signUp(server.url);
    const processing = await videoIn(db, user.user.id, 'processing');
    await db
      .insertInto('video_analysis')
      .values({ video_id: processing, checkpoint: '{}', processing_step: 'probe' })
      .execute();
    const fresh = await videoIn(db, user.user.id, 'uploaded');
    // Just uploaded, heartbeat current: not stuck.
    expect(firingOf(await evaluate(), 'video_stuck')).toHaveLength(0);

    await age(db, processing, 60);
    await age(db, fresh, 60);
    const l = await evaluate();
    expect(firingOf(l, 'video_stuck')).toHaveLength(1);
    expect(firingOf(l, 'video_stuck')[0]!.details).toEqual({ processing: [processing], uploaded: [fresh] });

    // Queued (as the cleanup sweep does) and the other finished: nothing stuck.
    await sql`SELECT graphile_worker.add_job('process_video', json_build_object('videoId', ${fresh}::text),
                                             job_key := 'process_video:' || ${fresh}::text,
                                             run_at := now() + interval '1 day')`.execute(db);
    await db.updateTable('videos').set({ status: 'ready' }).where('id', '=', processing).execute();
    expect(firingOf(await evaluate(), 'video_stuck')).toHaveLength(0);
  });

  it('quota: one alert per user at 90 % or more, resolved when the user deletes videos', async () => {
    const db = server.node.ctx.db;
    const full = await signUp(server.url);
    const half = await signUp(server.url);
    const big = await videoIn(db, full.user.id, 'ready', { size: 950_000 });
    await videoIn(db, half.user.id, 'ready', { size: 500_000 });
    let l = await evaluate();
    const quota = firingOf(l, 'quota');
    expect(quota.map((a) => a.subject)).toEqual([full.user.id]);
    expect(quota[0]!.details).toMatchObject({
      usedBytes: 950_000,
      quotaBytes: 1_000_000,
      percent: 95,
      email: full.email,
    });

    await db.deleteFrom('videos').where('id', '=', big).execute();
    l = await evaluate();
    expect(firingOf(l, 'quota')).toHaveLength(0);
    expect(l.history.find((a) => a.id === quota[0]!.id)?.state).toBe('resolved');
  });

  it('keeps resolved alerts 90 days', async () => {
    const db = server.node.ctx.db;
    const kept = await sql<{ id: string }>`
      INSERT INTO alerts (rule, subject, state, summary, first_fired_at, last_seen_at, resolved_at)
      VALUES ('queue_age', 'old', 'resolved', 'old', now() - interval '100 days', now() - interval '100 days', now() - interval '100 days'),
             ('queue_age', 'recent', 'resolved', 'recent', now() - interval '80 days', now() - interval '80 days', now() - interval '80 days')
      RETURNING id, subject`.execute(db);
    await evaluate();
    const left = await db
      .selectFrom('alerts')
      .select('subject')
      .where(
        'id',
        'in',
        kept.rows.map((r) => r.id),
      )
      .execute();
    expect(left.map((r) => r.subject)).toEqual(['recent']);
  });

  it('disk low: fires when the store file system has less free space than the threshold', async () => {
    const ctx = server.node.ctx;
    const withDisk = (percent: number): AppContext => ({
      ...ctx,
      config: { ...ctx.config, alerts: { ...ctx.config.alerts, diskFreePercent: percent } },
    });
    // Any real file system has under 100 % free.
    const fired = await evaluateAlerts(withDisk(100));
    expect(fired.errors).toEqual([]);
    const row = await ctx.db
      .selectFrom('alerts')
      .selectAll()
      .where('rule', '=', 'disk_low')
      .executeTakeFirstOrThrow();
    expect(fired.fired).toContain(row.id);
    expect(row.state).toBe('firing');
    expect(row.details).toMatchObject({ path: (ctx.config.storage as { root: string }).root });
    expect(row.details.freeBytes as number).toBeGreaterThan(0);
    expect(row.details.totalBytes as number).toBeGreaterThanOrEqual(row.details.freeBytes as number);

    // The store's file system cannot be read: the rule is skipped, its alert left firing.
    const unreadable = await evaluateAlerts({
      ...ctx,
      config: { ...ctx.config, storage: { driver: 'fs', root: `${server.dataDir}/no-such-dir` } },
    });
    expect(unreadable.errors.map((e) => e.rule)).toEqual(['disk_low']);
    expect(unreadable.resolved).not.toContain(row.id);

    const resolved = await evaluateAlerts(withDisk(0));
    expect(resolved.resolved).toContain(row.id);
  });
});
