import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsObjectStore } from '../../src/storage/fs-store.ts';
import { objectStoreContract } from './object-store.contract.ts';

objectStoreContract('fs (local disk)', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'clipdock-fs-store-'));
  const store = new FsObjectStore(root);
  await store.init();
  return {
    store,
    signsUrls: false,
    close: () => rm(root, { recursive: true, force: true }),
  };
});
