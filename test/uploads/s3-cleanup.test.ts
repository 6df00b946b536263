import { randomUUID } from 'node:crypto';
import { CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleanupRun } from '../../src/cleanup/runs.ts';
import { keys } from '../../src/storage/object-store.ts';
import type { S3ObjectStore } from '../../src/storage/s3-store.ts';
import { S3UploadRows, tailKey, withS3Uploads } from '../../src/uploads/s3-upload-state.ts';
import { s3Env, startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, waitFor } from './helpers.ts';

/**
 * The cleanup sweep's `abandoned_multiparts` check against real states: multipart uploads in
 * s3rver and their rows in PostgreSQL, for a canceled video, a deleted one, one idle past the
 * expiry, and a live one that must be left alone.
 */
const PART = 5 * 1024 * 1024;
let s3: TestS3;
let server: TestServer;
let admin: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = s3.config;
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    ...s3Env(c),
    S3_UPLOAD_PART_MIB: '5',
  });
  admin = await signUp(server.url);
});
afterAll(async () => {
  await server?.stop();
  await s3?.close();
});

const tus = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  'tus-resumable': '1.0.0',
  ...extra,
});
const db = () => server.node.ctx.db;
const rows = () => new S3UploadRows(db());
const client = () => (server.node.ctx.store as S3ObjectStore).client;

/** An upload with one recorded part and a tail: a multipart upload open in the bucket. */
async function partialUpload(): Promise<string> {
  const body = fakeMp4(2 * PART + 1);
  const { files } = await createSession(admin.api, [{ name: 'partial.mp4', size: body.length }]);
  const videoId = files[0]!.videoId;
  const created = await fetch(`${server.url}/api/uploads`, {
    method: 'POST',
    headers: tus(admin.token, {
      'upload-length': String(body.length),
      'upload-metadata': `videoId ${Buffer.from(videoId).toString('base64')}`,
    }),
  });
  expect(created.status).toBe(201);
  const res = await fetch(`${server.url}/api/uploads/${videoId}`, {
    method: 'PATCH',
    headers: tus(admin.token, {
      'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
    }),
    body: new Uint8Array(body.subarray(0, PART + 100)),
  });
  expect(res.status).toBe(204);
  // The request's last progress write has landed (a later one could hold the row when the sweep
  // expires it, and be skipped there).
  await waitFor(async () => {
    const v = await db()
      .selectFrom('videos')
      .select('received_bytes')
      .where('id', '=', videoId)
      .executeTakeFirst();
    return Number(v?.received_bytes) === PART + 100;
  });
  return videoId;
}

async function age(videoId: string, hours: number): Promise<void> {
  await withS3Uploads(db())
    .updateTable('s3_uploads')
    .set({ updated_at: sql`now() - make_interval(hours => ${hours})` as never })
    .where('video_id', '=', videoId)
    .execute();
}

async function cleanup(dryRun: boolean): Promise<CleanupRun> {
  const res = await admin.api('/api/admin/cleanup', { method: 'POST', body: JSON.stringify({ dryRun }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { run: CleanupRun }).run;
}

describe('cleanup of abandoned S3 multipart uploads', () => {
  it('aborts them and deletes their tails (a dry run changes nothing), and leaves a live upload alone', async () => {
    const live = await partialUpload();
    // Canceled, but the abort never happened (a crash right after the cancel committed).
    const canceled = await partialUpload();
    await db().updateTable('videos').set({ status: 'canceled' }).where('id', '=', canceled).execute();
    await age(canceled, 2);
    // Idle past the expiry: the sweep expires it and aborts its upload.
    const idle = await partialUpload();
    await db()
      .updateTable('videos')
      .set({ upload_started_at: sql`now() - interval '48 hours'` })
      .where('id', '=', idle)
      .execute();
    await age(idle, 48);
    // A deleted video: its row and multipart upload outlived it.
    const deleted = randomUUID();
    const bucket = s3.config.bucket;
    const mp = await client().send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: keys.original(deleted) }),
    );
    const part = await client().send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: keys.original(deleted),
        UploadId: mp.UploadId!,
        PartNumber: 1,
        Body: Buffer.alloc(PART, 1),
        ContentLength: PART,
      }),
    );
    await rows().create(deleted, 3 * PART, PART);
    await rows().setUploadId(deleted, mp.UploadId!);
    await rows().addPart(deleted, { n: 1, etag: part.ETag!, size: PART });
    await client().send(
      new PutObjectCommand({ Bucket: bucket, Key: tailKey(deleted), Body: Buffer.alloc(10) }),
    );
    await rows().setTail(deleted, 10);
    await age(deleted, 2);

    const openBefore = (await s3.openMultipartUploads()).sort();
    expect(openBefore).toHaveLength(4);
    const abandoned = [canceled, idle, deleted];

    const dry = await cleanup(true);
    for (const id of abandoned) {
      const item = dry.details.find((d) => d.check === 'abandoned_multiparts' && d.target === id);
      expect(item?.outcome, id).toBe('would_repair');
    }
    expect(dry.details.map((d) => d.target)).not.toContain(live);
    expect((await s3.openMultipartUploads()).sort()).toEqual(openBefore);
    for (const id of abandoned) expect(await rows().load(id)).toBeDefined();

    const run = await cleanup(false);
    expect(run.errors).toBe(0);
    for (const id of abandoned) {
      const item = run.details.find((d) => d.check === 'abandoned_multiparts' && d.target === id);
      expect(item?.outcome, id).toBe('repaired');
      expect(await rows().load(id)).toBeUndefined();
      expect(await server.node.ctx.store.head(tailKey(id))).toBeUndefined();
    }
    const liveState = (await rows().load(live))!;
    expect(await s3.openMultipartUploads()).toEqual([liveState.uploadId]);
    expect(await server.node.ctx.store.head(tailKey(live))).toBeDefined();
    expect(
      (await db().selectFrom('videos').select('status').where('id', '=', idle).executeTakeFirstOrThrow())
        .status,
    ).toBe('upload_expired');
  });
});
