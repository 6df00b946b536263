import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireUploads } from '../../src/uploads/expire.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, headOffset, waitFor } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    MAX_FILES_PER_SESSION: '3',
    MAX_FILE_BYTES: '1000000',
    STORAGE_QUOTA_BYTES: '3000000',
    STARTING_CREDITS: '30',
    CREDITS_PER_VIDEO: '10',
    UPLOAD_EXPIRY_HOURS: '24',
  });
});
afterAll(async () => {
  await server?.stop();
});

type User = Awaited<ReturnType<typeof signUp>>;
const me = async (u: User) =>
  (await (await u.api('/api/me')).json()) as {
    credits: { balance: number; reserved: number };
    storage: { usedBytes: number };
  };
const videoCount = async (u: User) =>
  Number(
    (
      await server.node.ctx.db
        .selectFrom('videos')
        .select(sql<string>`count(*)`.as('n'))
        .where('user_id', '=', u.user.id)
        .executeTakeFirstOrThrow()
    ).n,
  );
const post = (u: User, body: unknown) =>
  u.api('/api/upload-sessions', { method: 'POST', body: JSON.stringify(body) });

describe('upload sessions', () => {
  it('refuses each limit with its own code and reserves nothing', async () => {
    const u = await signUp(server.url);
    const ok = { name: 'a.mp4', size: 200_000 };
    const cases: Array<[unknown, number, string]> = [
      [{ files: [ok, ok, ok, ok] }, 400, 'TOO_MANY_FILES'],
      [{ files: [ok, { name: 'big.mov', size: 1_000_001 }] }, 413, 'FILE_TOO_LARGE'],
      [{ files: [{ name: 'empty.mp4', size: 0 }] }, 400, 'FILE_EMPTY'],
      [
        { files: [ok, { name: 'report.pdf', size: 10, type: 'application/pdf' }] },
        415,
        'UNSUPPORTED_FILE_TYPE',
      ],
      [{ files: [{ name: 'noext', size: 10, type: 'text/plain' }] }, 415, 'UNSUPPORTED_FILE_TYPE'],
      [{ files: [ok], projectId: '00000000-0000-4000-8000-000000000000' }, 404, 'PROJECT_NOT_FOUND'],
      [{ files: [ok], projectId: 'nope' }, 404, 'PROJECT_NOT_FOUND'],
      [{ files: [] }, 400, 'VALIDATION_FAILED'],
      [{ files: [{ name: 'x.mp4', size: -1 }] }, 400, 'VALIDATION_FAILED'],
    ];
    // Sizes in messages read as people read them.
    const big = (await (await post(u, { files: [{ name: 'big.mov', size: 1_000_001 }] })).json()) as {
      error: { message: string };
    };
    expect(big.error.message).toBe('"big.mov" is 1,000,001 bytes; the limit is 1,000,000 bytes per file.');
    const bigger = (await (await post(u, { files: [{ name: 'huge.mov', size: 2_500_000 }] })).json()) as {
      error: { message: string };
    };
    expect(bigger.error.message).toBe('"huge.mov" is 2.4 MB; the limit is 977 KB per file.');
    for (const [body, status, code] of cases) {
      const res = await post(u, body);
      expect({
        status: res.status,
        code: ((await res.json()) as { error: { code: string } }).error.code,
      }).toEqual({
        status,
        code,
      });
    }
    expect(await me(u)).toMatchObject({ credits: { balance: 30, reserved: 0 }, storage: { usedBytes: 0 } });
    expect(await videoCount(u)).toBe(0);

    // Within the limits: created, reserved, counted against the quota.
    const created = await createSession(u.api, [
      { name: 'one.mp4', size: 200_000, type: 'video/mp4' },
      { name: 'Two.MKV', size: 200_000 },
    ]);
    expect(created.files.map((f) => f.name)).toEqual(['one.mp4', 'Two.MKV']);
    expect(await me(u)).toMatchObject({
      credits: { balance: 10, reserved: 20 },
      storage: { usedBytes: 400_000 },
    });

    // Quota (400 000 used + 2 700 000 > 3 000 000), then credits (20 needed, 10 left).
    const quota = await post(u, {
      files: [
        { name: 'a.mp4', size: 900_000 },
        { name: 'b.mp4', size: 900_000 },
        { name: 'c.mp4', size: 900_000 },
      ],
    });
    expect(quota.status).toBe(413);
    expect(((await quota.json()) as { error: { code: string } }).error.code).toBe('STORAGE_QUOTA_EXCEEDED');
    const broke = await post(u, { files: [ok, ok] });
    expect(broke.status).toBe(402);
    expect(((await broke.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_CREDITS');
    expect(await me(u)).toMatchObject({
      credits: { balance: 10, reserved: 20 },
      storage: { usedBytes: 400_000 },
    });
    expect(await videoCount(u)).toBe(2);

    // Parallel sessions serialize on the credit account: only one of three fits the balance.
    const parallel = await Promise.all([1, 2, 3].map(() => post(u, { files: [ok] })));
    expect(parallel.map((r) => r.status).sort()).toEqual([201, 402, 402]);
    expect(await me(u)).toMatchObject({ credits: { balance: 0, reserved: 30 } });
    expect(await videoCount(u)).toBe(3);
  });

  it("shows a session to its owner only, with its videos' statuses and counts", async () => {
    const u = await signUp(server.url);
    const other = await signUp(server.url);
    const { sessionId, files } = await createSession(u.api, [
      { name: 'a.mp4', size: 1000 },
      { name: 'b.webm', size: 2000 },
    ]);
    const res = await u.api(`/api/upload-sessions/${sessionId}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      fileCount: number;
      totalBytes: number;
      counts: Record<string, number>;
      videos: Array<{ id: string; status: string; size: number }>;
    };
    expect(body).toMatchObject({ fileCount: 2, totalBytes: 3000, counts: { pending_upload: 2 } });
    expect(body.videos.map((v) => v.id)).toEqual(files.map((f) => f.videoId));
    expect((await other.api(`/api/upload-sessions/${sessionId}`)).status).toBe(404);
    expect((await u.api('/api/upload-sessions/not-a-session')).status).toBe(404);
  });

  it('expires unfinished uploads: status, credits, partial bytes, tus view', async () => {
    const u = await signUp(server.url);
    const body = fakeMp4(300_000);
    const { files } = await createSession(u.api, [
      { name: 'started.mp4', size: body.length },
      { name: 'never.mp4', size: body.length },
    ]);
    const [started, never] = files as [(typeof files)[0], (typeof files)[0]];
    const created = await fetch(started.upload.endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${u.token}`,
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
        'upload-metadata': `videoId ${Buffer.from(started.videoId).toString('base64')}`,
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(body.subarray(0, 100_000)),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('upload-expires')).toBeTruthy();
    const url = created.headers.get('location')!;
    expect(await headOffset(url, u.token)).toBe(100_000);

    const db = server.node.ctx.db;
    // The progress write runs after the reply and locks the row: the sweep (SKIP LOCKED) would
    // leave the video for its next run. Wait until it is committed.
    await waitFor(async () => {
      const v = await db
        .selectFrom('videos')
        .select('received_bytes')
        .where('id', '=', started.videoId)
        .executeTakeFirst();
      return Number(v?.received_bytes) === 100_000;
    });
    expect(await expireUploads(server.node.ctx)).toBe(0);
    await db
      .updateTable('videos')
      .set({
        created_at: sql`now() - interval '25 hours'`,
        upload_started_at: sql`CASE WHEN upload_started_at IS NULL THEN NULL ELSE now() - interval '25 hours' END`,
      })
      .where('id', 'in', [started.videoId, never.videoId])
      .execute();
    expect(await expireUploads(server.node.ctx)).toBe(2);
    expect(await expireUploads(server.node.ctx)).toBe(0);

    const rows = await db.selectFrom('videos').selectAll().where('user_id', '=', u.user.id).execute();
    expect(rows.map((r) => [r.status, r.error_code])).toEqual([
      ['upload_expired', 'UPLOAD_EXPIRED'],
      ['upload_expired', 'UPLOAD_EXPIRED'],
    ]);
    expect(await me(u)).toMatchObject({ credits: { balance: 30, reserved: 0 }, storage: { usedBytes: 0 } });
    const cleanups = await db
      .selectFrom('cleanup_jobs')
      .select('target')
      .where('target', 'in', [started.videoId, never.videoId])
      .execute();
    expect(cleanups).toHaveLength(2);
    const head = await fetch(url, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${u.token}`, 'tus-resumable': '1.0.0' },
    });
    expect(head.status).toBe(404);
  });
});
