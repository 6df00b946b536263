import { readdir } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import type { S3ObjectStore } from '../../src/storage/s3-store.ts';
import { offsetOf, S3UploadRows } from '../../src/uploads/s3-upload-state.ts';
import { s3Env, startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import type { TestServer } from '../helpers/server.ts';
import { PART, uploadStoreContract } from './upload-store.contract.ts';

// Straight into the bucket (s3rver in-process), state in PostgreSQL, 5 MiB parts.
let s3: TestS3;
const rows = (server: TestServer) => new S3UploadRows(server.node.ctx.db);
const s3store = (server: TestServer) => server.node.ctx.store as S3ObjectStore;

async function tailBytes(server: TestServer, key: string): Promise<Buffer> {
  const res = await s3store(server).client.send(new GetObjectCommand({ Bucket: s3.config.bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

uploadStoreContract('S3 (s3rver)', async () => {
  s3 = await startS3rver();
  const c = s3.config;
  return {
    env: {
      ...s3Env(c),
      S3_UPLOAD_PART_MIB: '5',
    },
    async checkBetweenRequests(server, videoId, offset) {
      const state = (await rows(server).load(videoId))!;
      expect(offsetOf(state)).toBe(offset);
      expect(state.parts.map((p) => p.size)).toEqual(state.parts.map(() => PART));
      expect(state.tailSize).toBe(offset % PART);
      if (state.tailSize > 0) {
        // The tail is in the bucket, at least as long as recorded.
        expect((await tailBytes(server, state.tailKey)).length).toBeGreaterThanOrEqual(state.tailSize);
      }
      if (state.parts.length > 0) expect(await s3.openMultipartUploads()).toContain(state.uploadId);
      // Nothing on the API node's disk.
      expect(await readdir(server.node.ctx.config.uploadsDir).catch(() => [])).toEqual([]);
    },
    async checkGone(server, videoId) {
      expect(await rows(server).load(videoId)).toBeUndefined();
      expect(await s3.openMultipartUploads()).toEqual([]);
    },
    async crashMidWrite(server, videoId, _body, offset) {
      // A request rewrote the tail (the recorded bytes and more) but died before recording its
      // size; the next one sent a part to S3 (other bytes than the client's) and died before its row.
      const state = (await rows(server).load(videoId))!;
      expect(state.uploadId).not.toBeNull();
      expect(state.tailSize).toBeGreaterThan(0);
      const tail = (await tailBytes(server, state.tailKey)).subarray(0, state.tailSize);
      await s3store(server).client.send(
        new PutObjectCommand({
          Bucket: s3.config.bucket,
          Key: state.tailKey,
          Body: Buffer.concat([tail, Buffer.alloc(3000, 0xdd)]),
        }),
      );
      await s3store(server).client.send(
        new UploadPartCommand({
          Bucket: s3.config.bucket,
          Key: state.objectKey,
          UploadId: state.uploadId!,
          PartNumber: state.parts.length + 1,
          Body: Buffer.alloc(PART, 0xee),
          ContentLength: PART,
        }),
      );
      return offset;
    },
    close: () => s3.close(),
  };
});
