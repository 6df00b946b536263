import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VideoStatus } from '../../src/db/types.ts';
import type { StorageAuditRow } from '../../src/ops/storage-audit.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { defaultProjectId } from '../live/helpers.ts';

/** The storage audit (the video_storage_analysis view) against rows of every kind. */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
});
afterAll(async () => {
  await server?.stop();
});

async function video(
  userId: string,
  projectId: string,
  status: VideoStatus,
  bytes: { received: number; stored: boolean; outputs?: Record<string, number> },
): Promise<void> {
  const db = server.node.ctx.db;
  const v = await db
    .insertInto('videos')
    .values({
      user_id: userId,
      project_id: projectId,
      name: `${status}.mp4`,
      status,
      declared_size: Math.max(bytes.received, 1),
      received_bytes: bytes.received,
      storage_key: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (bytes.stored) {
    await db
      .updateTable('videos')
      .set({ storage_key: `videos/${v.id}/original` })
      .where('id', '=', v.id)
      .execute();
  }
  if (bytes.outputs) {
    await db
      .insertInto('video_analysis')
      .values({ video_id: v.id, checkpoint: '{}', output_sizes: JSON.stringify(bytes.outputs) })
      .execute();
  }
}

describe('GET /api/admin/storage', () => {
  it('sums videos, original, output and partial bytes and status counts per user and project', async () => {
    const admin = await signUp(server.url);
    const alice = await signUp(server.url);
    const db = server.node.ctx.db;
    const home = await defaultProjectId(db, alice.user.id);
    const work = (
      await db
        .insertInto('projects')
        .values({ user_id: alice.user.id, name: 'Work' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    await video(alice.user.id, home, 'ready', {
      received: 1000,
      stored: true,
      outputs: { 'videos/a/video.mp4': 400, 'videos/a/poster.jpg': 50 },
    });
    await video(alice.user.id, home, 'ready', {
      received: 2000,
      stored: true,
      outputs: { 'videos/b/video.mp4': 900 },
    });
    await video(alice.user.id, home, 'failed', { received: 300, stored: true });
    await video(alice.user.id, home, 'processing', { received: 700, stored: true, outputs: {} });
    await video(alice.user.id, home, 'uploading', { received: 123, stored: false });
    await video(alice.user.id, work, 'pending_upload', { received: 0, stored: false });
    await video(alice.user.id, work, 'uploaded', { received: 5000, stored: true });

    const res = await admin.api('/api/admin/storage');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rows: StorageAuditRow[]; totals: Record<string, number> };
    const mine = body.rows.filter((r) => r.userId === alice.user.id);
    expect(mine).toEqual(
      [
        {
          userId: alice.user.id,
          email: alice.email,
          projectId: home,
          projectName: expect.any(String),
          videos: 5,
          originalBytes: 1000 + 2000 + 300 + 700,
          outputBytes: 400 + 50 + 900,
          partialBytes: 123,
          ready: 2,
          failed: 1,
          processing: 1,
          unfinished: 1,
        },
        {
          userId: alice.user.id,
          email: alice.email,
          projectId: work,
          projectName: 'Work',
          videos: 2,
          originalBytes: 5000,
          outputBytes: 0,
          partialBytes: 0,
          ready: 0,
          failed: 0,
          processing: 1,
          unfinished: 1,
        },
      ].sort(
        (a, b) =>
          b.originalBytes +
          b.outputBytes +
          b.partialBytes -
          (a.originalBytes + a.outputBytes + a.partialBytes),
      ),
    );
    // The admin has no videos: no rows; the totals are the sums of the rows.
    expect(body.rows.some((r) => r.userId === admin.user.id)).toBe(false);
    expect(body.totals.videos).toBe(7);
    expect(body.totals.originalBytes).toBe(9000);
    expect(body.totals.outputBytes).toBe(1350);
  });
});
