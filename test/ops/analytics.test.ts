import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadAnalytics } from '../../src/ops/analytics.ts';
import { videoIn } from '../alerts/helpers.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * GET /api/admin/analytics over rows inserted for a controlled distribution, so the SQL
 * percentiles (percentile_cont: linear between the nearest ranks) can be checked exactly.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

describe('GET /api/admin/analytics', () => {
  it('speed percentiles, failure rate by code, uploads and processing time per day', async () => {
    const admin = await signUp(server.url);
    const db = server.node.ctx.db;
    const uid = admin.user.id;
    // Ten completed uploads today at 100..1000 B/s; one failed (excluded), one 40 days old (outside).
    for (let i = 1; i <= 10; i++) {
      await db
        .insertInto('upload_metrics')
        .values({
          user_id: uid,
          size_bytes: 1000 * i,
          duration_ms: 1000,
          bytes_per_second: 100 * i,
          resumes: i % 2,
        })
        .execute();
    }
    await db
      .insertInto('upload_metrics')
      .values({ user_id: uid, size_bytes: 5, duration_ms: 1, bytes_per_second: 1e9, error_type: 'ABORTED' })
      .execute();
    await sql`INSERT INTO upload_metrics (user_id, size_bytes, duration_ms, bytes_per_second, created_at)
              VALUES (${uid}, 7, 1, 1e9, now() - interval '40 days'),
                     (${uid}, 3000, 1000, 3000, now() - interval '1 day')`.execute(db);

    // Finished videos: 5 ready, 3 failed (2 + 1 by code).
    const ready: string[] = [];
    for (let i = 0; i < 5; i++) ready.push(await videoIn(db, uid, 'ready'));
    await videoIn(db, uid, 'failed', { errorCode: 'MEDIA_UNREADABLE' });
    await videoIn(db, uid, 'failed', { errorCode: 'MEDIA_UNREADABLE' });
    await videoIn(db, uid, 'failed', { errorCode: 'PROCESSING_TIMEOUT' });
    await videoIn(db, uid, 'processing'); // not finished: not counted
    // Processing times: 10, 20, 40 s completed today; 60 s completed yesterday.
    const processed: Array<[string, number, string]> = [
      [ready[0]!, 10, '0'],
      [ready[1]!, 20, '0'],
      [ready[2]!, 40, '0'],
      [ready[3]!, 60, '1'],
    ];
    for (const [id, seconds, daysAgo] of processed) {
      await sql`INSERT INTO video_analysis (video_id, checkpoint, started_at, completed_at)
                VALUES (${id}, '{}', now() - make_interval(days => ${daysAgo}::int, secs => ${seconds}),
                        now() - make_interval(days => ${daysAgo}::int))`.execute(db);
    }

    const res = await admin.api('/api/admin/analytics?days=30');
    expect(res.status, await res.clone().text()).toBe(200);
    const a = (await res.json()) as UploadAnalytics;
    expect(a.days).toBe(30);
    // Eleven completed uploads: 100..1000 and 3000 B/s. p50 is the 6th (600); p95 at rank 9.5
    // lies halfway between 1000 and 3000.
    expect(a.uploads).toEqual({ count: 11, speedP50: 600, speedP95: 2000, totalBytes: 58_000, resumes: 5 });
    expect(a.failures.finished).toBe(8);
    expect(a.failures.failed).toBe(3);
    expect(a.failures.rate).toBeCloseTo(3 / 8, 10);
    expect(a.failures.byCode).toEqual([
      { code: 'MEDIA_UNREADABLE', count: 2, rate: 2 / 8 },
      { code: 'PROCESSING_TIMEOUT', count: 1, rate: 1 / 8 },
    ]);

    expect(a.perDay).toHaveLength(30);
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(a.perDay.at(-1)!.day).toBe(today);
    expect(a.perDay.at(-2)!.day).toBe(yesterday);
    // Today: 10, 20, 40 s → p50 20, p95 at rank 1.9 = 20 + 0.9 × 20.
    expect(a.perDay.at(-1)).toMatchObject({
      uploads: 10,
      bytes: 55_000,
      processed: 3,
      processingP50Seconds: 20,
    });
    expect(a.perDay.at(-1)!.processingP95Seconds).toBeCloseTo(38, 6);
    expect(a.perDay.at(-2)).toEqual({
      day: yesterday,
      uploads: 1,
      bytes: 3000,
      processed: 1,
      processingP50Seconds: 60,
      processingP95Seconds: 60,
    });
    expect(
      a.perDay
        .slice(0, -2)
        .every((d) => d.uploads === 0 && d.processed === 0 && d.processingP50Seconds === null),
    ).toBe(true);

    const one = (await (await admin.api('/api/admin/analytics?days=1')).json()) as UploadAnalytics;
    expect(one.perDay.map((d) => d.day)).toEqual([today]);
    expect(one.uploads.count).toBe(10);

    const bad = await admin.api('/api/admin/analytics?days=0');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBeTruthy();
  });
});
