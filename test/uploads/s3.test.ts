import { readdir } from 'node:fs/promises';
import { CompleteMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3ObjectStore } from '../../src/storage/s3-store.ts';
import { S3UploadRows, tailKey } from '../../src/uploads/s3-upload-state.ts';
import { s3Env, startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, headOffset, sha256, startTus, tusCreate } from './helpers.ts';

/**
 * tus on S3 as a browser sees it: tus-js-client against a node with STORAGE_DRIVER=s3 on an
 * in-process s3rver (S3_TEST_ENDPOINT is no longer needed: the upload store uses only calls
 * s3rver has, see s3-upload-store.ts and test/helpers/s3rver.ts).
 */
let server: TestServer;
let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = s3.config;
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    ...s3Env(c),
  });
});
afterAll(async () => {
  await server?.stop();
  await s3?.close();
});

describe('tus uploads on S3', () => {
  it('uploads in parts, resumes after an abort, and serves the original byte-identical', async () => {
    const u = await signUp(server.url);
    const body = fakeMp4(18 * 1024 * 1024 + 5);
    const { files } = await createSession(u.api, [{ name: 's3.mp4', size: body.length }]);
    const file = files[0]!;
    const first = startTus(body, { token: u.token, file, chunkSize: 6 * 1024 * 1024 });
    await first.reached(6 * 1024 * 1024);
    await first.upload.abort();
    await startTus(body, { token: u.token, uploadUrl: first.upload.url!, retry: true }).done;
    const res = await u.api(`/api/videos/${file.videoId}/original`);
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
    expect(await s3.openMultipartUploads()).toEqual([]);
    // Nothing of it ever touched the node's disk, and nothing but the original is left.
    expect(await readdir(server.node.ctx.config.uploadsDir).catch(() => [])).toEqual([]);
    expect((await server.node.ctx.store.list(`videos/${file.videoId}/`)).map((o) => o.key)).toEqual([
      `videos/${file.videoId}/original`,
    ]);
  });

  it('an upload whose tail object vanished goes back to its last part: 409, then HEAD and resume', async () => {
    const u = await signUp(server.url);
    const MiB = 1024 * 1024;
    const body = fakeMp4(10 * MiB + 5);
    const { files } = await createSession(u.api, [{ name: 'tail.mp4', size: body.length }]);
    const videoId = files[0]!.videoId;
    expect((await tusCreate(files[0]!, u.token, { length: body.length })).status).toBe(201);
    const url = `${server.url}/api/uploads/${videoId}`;
    const patch = (offset: number) =>
      fetch(url, {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${u.token}`,
          'tus-resumable': '1.0.0',
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(body.subarray(offset, offset === 0 ? 9 * MiB : body.length)),
      });
    // One 8 MiB part and a 1 MiB tail; then the tail is deleted outside Clipdock.
    expect((await patch(0)).status).toBe(204);
    await server.node.ctx.store.delete(tailKey(videoId));
    const refused = await patch(9 * MiB);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('UPLOAD_OFFSET_CHANGED');
    expect(await headOffset(url, u.token)).toBe(8 * MiB);
    expect((await patch(8 * MiB)).status).toBe(204);
    const res = await u.api(`/api/videos/${videoId}/original`);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
  });

  it('suggests a PATCH size of whole parts, so requests of that size never write a tail', async () => {
    const u = await signUp(server.url);
    const MiB = 1024 * 1024;
    const me = (await (await u.api('/api/me')).json()) as { limits: { uploadChunkBytes: number } };
    // 10 MiB rounded up to whole 8 MiB parts (S3_UPLOAD_PART_MIB's default).
    expect(me.limits.uploadChunkBytes).toBe(16 * MiB);
    const chunk = me.limits.uploadChunkBytes;
    const body = fakeMp4(2 * chunk + 5);
    const { files } = await createSession(u.api, [{ name: 'whole.mp4', size: body.length }]);
    const videoId = files[0]!.videoId;
    expect((await tusCreate(files[0]!, u.token, { length: body.length })).status).toBe(201);
    const url = `${server.url}/api/uploads/${videoId}`;
    const patch = (offset: number, end: number) =>
      fetch(url, {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${u.token}`,
          'tus-resumable': '1.0.0',
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(body.subarray(offset, end)),
      });
    for (const at of [0, chunk]) {
      expect((await patch(at, at + chunk)).status).toBe(204);
      const row = await server.node.ctx.db
        .selectFrom('s3_uploads' as never)
        .select(['tail_size' as never])
        .where('video_id' as never, '=', videoId as never)
        .executeTakeFirstOrThrow();
      expect(Number((row as { tail_size: string }).tail_size)).toBe(0);
      expect(await server.node.ctx.store.head(tailKey(videoId))).toBeUndefined();
    }
    expect((await patch(2 * chunk, body.length)).status).toBe(204);
    const res = await u.api(`/api/videos/${videoId}/original`);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
  });

  it('a crash between completing the multipart upload and forgetting its row: the resent end finishes it', async () => {
    const u = await signUp(server.url);
    const MiB = 1024 * 1024;
    const body = fakeMp4(10 * MiB + 5);
    const { files } = await createSession(u.api, [{ name: 'completed.mp4', size: body.length }]);
    const videoId = files[0]!.videoId;
    expect((await tusCreate(files[0]!, u.token, { length: body.length })).status).toBe(201);
    const url = `${server.url}/api/uploads/${videoId}`;
    const patch = (offset: number, end: number) =>
      fetch(url, {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${u.token}`,
          'tus-resumable': '1.0.0',
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(body.subarray(offset, end)),
      });
    expect((await patch(0, 9 * MiB)).status).toBe(204);
    // The last request got as far as CompleteMultipartUpload, then the node died.
    const state = (await new S3UploadRows(server.node.ctx.db).load(videoId))!;
    const client = (server.node.ctx.store as S3ObjectStore).client;
    const last = await client.send(
      new UploadPartCommand({
        Bucket: s3.config.bucket,
        Key: state.objectKey,
        UploadId: state.uploadId!,
        PartNumber: 2,
        Body: body.subarray(8 * MiB),
        ContentLength: body.length - 8 * MiB,
      }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.config.bucket,
        Key: state.objectKey,
        UploadId: state.uploadId!,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: state.parts[0]!.etag },
            { PartNumber: 2, ETag: last.ETag! },
          ],
        },
      }),
    );
    // The row still says 9 MiB: the client resends the end, which finds the upload complete.
    expect(await headOffset(url, u.token)).toBe(9 * MiB);
    expect((await patch(9 * MiB, body.length)).status).toBe(204);
    expect(await new S3UploadRows(server.node.ctx.db).load(videoId)).toBeUndefined();
    const res = await u.api(`/api/videos/${videoId}/original`);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
  });

  it('sniffs on S3 too: a file that is not a video is refused with 415 and nothing is kept', async () => {
    const u = await signUp(server.url);
    const body = Buffer.from('%PDF-1.7\n'.repeat(10_000));
    const { files } = await createSession(u.api, [{ name: 'fake.mp4', size: body.length }]);
    const res = await tusCreate(files[0]!, u.token, { length: body.length, body });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_A_VIDEO');
    // Refused before any byte reached the bucket.
    expect(await server.node.ctx.store.list(`videos/${files[0]!.videoId}/`)).toEqual([]);
  });
});
