import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3UploadRows } from '../../src/uploads/s3-upload-state.ts';
import { s3Env, startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, headOffset, sha256, tusCreate } from './helpers.ts';

/**
 * Uploads straight into a bucket that refuses writes (full) or stops answering: the client gets
 * STORAGE_FULL (507) or STORAGE_UNAVAILABLE (503) with a message, what S3 acknowledged before is
 * kept (HEAD says where), nothing half-written counts, and the upload resumes once it is back.
 */
const MiB = 1024 * 1024;
let s3: TestS3;
let server: TestServer;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = s3.config;
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    ...s3Env(c),
    S3_UPLOAD_PART_MIB: '5',
  });
});
afterAll(async () => {
  await server?.stop();
  await s3?.close();
});

async function begin(size: number) {
  const u = await signUp(server.url);
  const body = fakeMp4(size);
  const { files } = await createSession(u.api, [{ name: 'outage.mp4', size }]);
  const videoId = files[0]!.videoId;
  expect((await tusCreate(files[0]!, u.token, { length: size })).status).toBe(201);
  const url = `${server.url}/api/uploads/${videoId}`;
  const patch = (offset: number, end = size) =>
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
  return { u, body, videoId, url, patch };
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('S3 uploads when the bucket refuses or is gone', () => {
  it('a full bucket: 507 STORAGE_FULL, the stored part kept, and the upload resumes once there is room', async () => {
    const up = await begin(12 * MiB + 3);
    expect((await up.patch(0, 6 * MiB)).status).toBe(204);
    s3.full = true;
    let refused: Response;
    try {
      refused = await up.patch(6 * MiB);
    } finally {
      s3.full = false;
    }
    expect(refused.status).toBe(507);
    expect(await errorCode(refused)).toBe('STORAGE_FULL');
    // The bytes S3 took before are the upload's offset; the refused request added nothing.
    expect(await headOffset(up.url, up.u.token)).toBe(6 * MiB);
    const state = await new S3UploadRows(server.node.ctx.db).load(up.videoId);
    expect(state?.parts).toHaveLength(1);
    expect((await up.patch(6 * MiB)).status).toBe(204);
    const res = await up.u.api(`/api/videos/${up.videoId}/original`);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(up.body));
  });

  it('a bucket that is gone: 503 STORAGE_UNAVAILABLE, and the upload resumes once it is back', async () => {
    const up = await begin(11 * MiB);
    expect((await up.patch(0, 5 * MiB + 1000)).status).toBe(204);
    await s3.stop();
    let refused: Response;
    try {
      refused = await up.patch(5 * MiB + 1000);
    } finally {
      await s3.restart();
    }
    expect(refused.status).toBe(503);
    expect(await errorCode(refused)).toBe('STORAGE_UNAVAILABLE');
    const offset = await headOffset(up.url, up.u.token);
    expect(offset).toBe(5 * MiB + 1000);
    expect((await up.patch(offset)).status).toBe(204);
    const res = await up.u.api(`/api/videos/${up.videoId}/original`);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(up.body));
    expect(await s3.openMultipartUploads()).toEqual([]);
  });
});
