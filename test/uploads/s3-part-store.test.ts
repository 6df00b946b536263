import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Upload } from '@tus/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/storage/object-store.ts';
import { S3ObjectStore } from '../../src/storage/s3-store.ts';
import { tailKey } from '../../src/uploads/s3-upload-state.ts';
import { S3PartStore } from '../../src/uploads/s3-upload-store.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { sha256 } from './helpers.ts';

/**
 * The S3 upload store on its own (real PostgreSQL, real s3rver), for what tus requests cannot
 * pin down exactly: a body that fails at a known byte, and the zero-length upload.
 */
const PART = 5 * 1024 * 1024;
let s3: TestS3;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let objects: S3ObjectStore;
let store: S3PartStore;
beforeAll(async () => {
  s3 = await startS3rver();
  db = await createTestDatabase();
  objects = new S3ObjectStore(s3.config);
  store = new S3PartStore({
    client: objects.client,
    bucket: objects.bucket,
    db: db.db,
    partSize: PART,
    expirationMs: 3600_000,
  });
});
afterAll(async () => {
  await db?.drop();
  await s3?.close();
});

/** Yields `data` in 64 KiB chunks, then fails with `failure` if given. */
function body(data: Buffer, failure?: Error): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
      if (failure) throw failure;
    })(),
  );
}

async function readAll(key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of await objects.get(key)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('S3PartStore', () => {
  it('keeps every byte that arrived before the body failed (parts and tail), and resumes from there', async () => {
    const id = randomUUID();
    const data = randomBytes(2 * PART + 77);
    await store.create(new Upload({ id, size: data.length, offset: 0 }));
    const cut = PART + 1000;
    const broken = new Error('connection reset');
    await expect(store.write(body(data.subarray(0, cut), broken), id, 0)).rejects.toBe(broken);
    expect((await store.getUpload(id)).offset).toBe(cut);
    expect(await readAll(tailKey(id))).toEqual(data.subarray(PART, cut));
    expect(await store.write(body(data.subarray(cut)), id, cut)).toBe(data.length);
    expect(sha256(await readAll(keys.original(id)))).toBe(sha256(data));
    await expect(store.getUpload(id)).rejects.toMatchObject({ status_code: 404 });
    expect(await objects.head(tailKey(id))).toBeUndefined();
    expect(await s3.openMultipartUploads()).toEqual([]);
  });

  it('stores an upload shorter than a part with one PutObject, never a multipart upload', async () => {
    const id = randomUUID();
    const data = randomBytes(300_000);
    await store.create(new Upload({ id, size: data.length, offset: 0 }));
    expect(await store.write(body(data.subarray(0, 100_000)), id, 0)).toBe(100_000);
    expect(await s3.openMultipartUploads()).toEqual([]);
    expect(await store.write(body(data.subarray(100_000)), id, 100_000)).toBe(data.length);
    expect(await readAll(keys.original(id))).toEqual(data);
    expect(await s3.openMultipartUploads()).toEqual([]);
  });

  it('completes a zero-length upload on creation', async () => {
    const id = randomUUID();
    await store.create(new Upload({ id, size: 0, offset: 0 }));
    expect((await objects.head(keys.original(id)))?.size).toBe(0);
    await expect(store.getUpload(id)).rejects.toMatchObject({ status_code: 404 });
  });

  it('refuses a write at an offset other than the recorded one', async () => {
    const id = randomUUID();
    await store.create(new Upload({ id, size: 2 * PART, offset: 0 }));
    await expect(store.write(body(Buffer.alloc(10)), id, 5)).rejects.toMatchObject({ status_code: 409 });
    expect((await store.getUpload(id)).offset).toBe(0);
  });
});
