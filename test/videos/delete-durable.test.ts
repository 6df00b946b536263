import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { insertVideo, until } from '../live/helpers.ts';

/**
 * A delete whose storage call fails is not lost: the row goes at once, the stored objects stay
 * recorded in cleanup_jobs, and the worker retries until the storage answers again.
 * The storage is an s3rver that is stopped and then started again on the same port and files.
 */
const bucket = 'clipdock-durable';
let dir: string;
let s3: S3rver;
let port: number;
let server: TestServer;

async function startS3(p: number): Promise<number> {
  s3 = new S3rver({
    address: '127.0.0.1',
    port: p,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  return (await s3.run()).port;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-s3rver-'));
  port = await startS3(0);
  server = await startTestServer({
    STORAGE_DRIVER: 's3',
    S3_BUCKET: bucket,
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
  });
});
afterAll(async () => {
  await server?.stop();
  await s3?.close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('durable delete', () => {
  // graphile-worker's backoff between attempts grows as e^attempts seconds (3 s, 7 s, 20 s, ...):
  // under load the retry after storage is back can take a minute, so the test allows three.
  it('retries a failed storage delete until the objects are gone', { timeout: 180_000 }, async () => {
    const u = await signUp(server.url);
    const { store, db } = server.node.ctx;
    const id = await insertVideo(db, u.user.id);
    await store.put(`videos/${id}/original`, Buffer.from('original'));
    await store.put(`videos/${id}/poster.jpg`, Buffer.from('poster'));

    await s3.close();
    expect((await u.api(`/api/videos/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await u.api(`/api/videos/${id}`)).status).toBe(404);

    const job = () =>
      db
        .selectFrom('cleanup_jobs')
        .selectAll()
        .where('target', '=', `videos/${id}/`)
        .executeTakeFirstOrThrow();
    // The worker tried, failed, and kept the delete pending.
    const failed = await until(
      async () => {
        const j = await job();
        return j.attempts > 0 ? j : undefined;
      },
      60_000,
      'a failed cleanup attempt',
    );
    expect(failed?.done_at).toBeNull();
    expect(failed?.last_error).toBeTruthy();

    await startS3(port);
    expect((await store.list(`videos/${id}/`)).length).toBe(2);
    await until(async () => (await job()).done_at !== null, 150_000, 'the retried cleanup');
    expect(await store.list(`videos/${id}/`)).toEqual([]);
  });
});
