import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import type { S3StoreConfig } from '../../src/storage/s3-store.ts';

/** An in-process s3rver on loopback (port 0) keeping its files in a temp dir. */
export async function startS3rver(): Promise<{ config: S3StoreConfig; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-s3rver-'));
  const bucket = 'clipdock-test';
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  // run() resolves with the listening socket's address, so port 0 works.
  const { port } = await server.run();
  return {
    config: {
      driver: 's3',
      bucket,
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    },
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
