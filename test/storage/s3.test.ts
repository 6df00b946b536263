import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore } from '../../src/storage/index.ts';
import { S3ObjectStore, type S3StoreConfig } from '../../src/storage/s3-store.ts';
import { objectStoreContract } from './object-store.contract.ts';

/** An in-process s3rver on loopback (port 0) keeping its files in a temp dir. */
async function startS3rver(): Promise<{ config: S3StoreConfig; close(): Promise<void> }> {
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

// The store is built through the factory, exactly as STORAGE_DRIVER=s3 builds it.
objectStoreContract('s3 (s3rver on loopback)', async () => {
  const s3 = await startS3rver();
  return { store: await createObjectStore(s3.config), signsUrls: true, close: s3.close };
});

describe('S3ObjectStore across page and batch boundaries', () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('lists every key over several pages and deletes a prefix in several batches', async () => {
    const store = new S3ObjectStore(s3.config, { pageSize: 7, deleteBatch: 5 });
    const keys = Array.from({ length: 23 }, (_, i) => `paged/${String(i).padStart(3, '0')}`);
    await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
    await store.put('paged-not/inside', Buffer.from('x'));

    expect((await store.list('paged/')).map((o) => o.key)).toEqual(keys);
    await store.deletePrefix('paged/');
    expect(await store.list('paged/')).toEqual([]);
    expect((await store.list('paged')).map((o) => o.key)).toEqual(['paged-not/inside']);
  });
});
