import type { Config } from '../config.ts';
import { FsObjectStore } from './fs-store.ts';
import type { ObjectStore } from './object-store.ts';

/** Picks the object store named by STORAGE_DRIVER. */
export async function createObjectStore(storage: Config['storage']): Promise<ObjectStore> {
  if (storage.driver === 'fs') {
    const store = new FsObjectStore(storage.root);
    await store.init();
    return store;
  }
  const { S3ObjectStore } = await import('./s3-store.ts');
  return new S3ObjectStore(storage);
}
