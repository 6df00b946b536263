import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore } from '../../src/storage/index.ts';
import { S3ObjectStore } from '../../src/storage/s3-store.ts';
import { startS3rver } from '../helpers/s3rver.ts';
import { objectStoreContract } from './object-store.contract.ts';

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
