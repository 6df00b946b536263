import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/storage/object-store.ts';
import { startS3rver } from '../helpers/s3rver.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import { reservations, uploadedVideo, waitForStatus } from './helpers.ts';

/**
 * The pipeline with STORAGE_DRIVER=s3 (s3rver on loopback): ffprobe and ffmpeg read the original
 * over a signed URL, outputs are put into the bucket, and the owner is redirected to signed URLs.
 */
let s3: Awaited<ReturnType<typeof startS3rver>>;
let server: TestServer;
let dir: string;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = s3.config;
  server = await startTestServer({
    STORAGE_DRIVER: 's3',
    S3_BUCKET: c.bucket,
    S3_REGION: c.region,
    S3_ENDPOINT: c.endpoint!,
    S3_ACCESS_KEY_ID: c.accessKeyId,
    S3_SECRET_ACCESS_KEY: c.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    FFMPEG_THREADS: '1',
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-s3-processing-'));
});
afterAll(async () => {
  await server?.stop();
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('processing on S3 storage', () => {
  it('converts a video read from the bucket and serves its outputs as signed URLs', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeGood('hevc', dir));
    const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed']);
    expect(v.error_code).toBeNull();
    expect(v.status).toBe('ready');
    expect(await reservations(server.node.ctx.db, videoId)).toEqual([{ state: 'captured', amount: 10 }]);

    const stored = (await server.node.ctx.store.list(keys.videoPrefix(videoId))).map((o) => o.key);
    expect(stored).toEqual(
      expect.arrayContaining([keys.output(videoId, 'video.mp4'), keys.output(videoId, 'poster.jpg')]),
    );

    const res = await user.api(`/api/videos/${videoId}/outputs/video.mp4`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith(s3.config.endpoint!)).toBe(true);
    expect(location).toContain('X-Amz-Signature');
    const range = await fetch(location, { headers: { range: 'bytes=4-7' } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).toString('latin1')).toBe('ftyp');
    // The signed URL fixes the type and disposition, whatever type the object was stored with.
    expect(new URL(location).searchParams.get('response-content-type')).toBe('video/mp4');
    expect(range.headers.get('content-type')).toBe('video/mp4');
    expect(range.headers.get('content-disposition')).toBe('inline');

    // Another user is refused before any URL is signed.
    const other = await signUp(server.url);
    expect((await other.api(`/api/videos/${videoId}/outputs/video.mp4`, { redirect: 'manual' })).status).toBe(
      404,
    );
  });
});
