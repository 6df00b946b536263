import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, sha256, startTus } from './helpers.ts';

/**
 * tus on S3 needs a full S3 implementation: @tus/s3-store calls ListParts on every PATCH, which
 * s3rver (and every other S3 fake on npm) lacks. Set S3_TEST_ENDPOINT (with S3_TEST_ACCESS_KEY_ID,
 * S3_TEST_SECRET_ACCESS_KEY, optionally S3_TEST_BUCKET and S3_TEST_REGION) to run these.
 */
const endpoint = process.env.S3_TEST_ENDPOINT;

describe.runIf(endpoint)('tus uploads on S3', () => {
  let server: TestServer;
  const bucket = process.env.S3_TEST_BUCKET ?? 'clipdock-tus-test';
  const region = process.env.S3_TEST_REGION ?? 'us-east-1';
  const credentials = {
    accessKeyId: process.env.S3_TEST_ACCESS_KEY_ID ?? 'S3RVER',
    secretAccessKey: process.env.S3_TEST_SECRET_ACCESS_KEY ?? 'S3RVER',
  };

  beforeAll(async () => {
    const s3 = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
      if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
    });
    s3.destroy();
    server = await startTestServer({
      CLIPDOCK_ROLE: 'api',
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: endpoint!,
      S3_BUCKET: bucket,
      S3_REGION: region,
      S3_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

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
  });
});
