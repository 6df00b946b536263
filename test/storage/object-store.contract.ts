import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObjectStore, StorageNotFoundError } from '../../src/storage/object-store.ts';

export interface StoreUnderTest {
  store: ObjectStore;
  /** Whether signedUrl() must return a URL (S3) or may return undefined (the API serves the bytes). */
  signsUrls: boolean;
  close(): Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

async function sha256(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk as Uint8Array);
  return h.digest('hex');
}

/**
 * Deterministic pseudo-random bytes, generated chunk by chunk: the whole body never exists at
 * once. `beforeChunk` runs before each chunk and once more after the last one was taken.
 */
async function* lazyChunks(
  total: number,
  chunkSize: number,
  beforeChunk: (index: number) => Promise<void>,
): AsyncGenerator<Buffer> {
  let index = 0;
  for (let sent = 0; sent < total; sent += chunkSize) {
    await beforeChunk(index);
    const n = Math.min(chunkSize, total - sent);
    const chunk = Buffer.allocUnsafe(n);
    const seed = createHash('sha256').update(String(index++)).digest();
    for (let i = 0; i < n; i += seed.length) seed.copy(chunk, i, 0, Math.min(seed.length, n - i));
    yield chunk;
  }
  // A store that buffers the body holds all of it at this point.
  await beforeChunk(index);
}

/**
 * Bytes held in ArrayBuffers that are still referenced: a full GC, then a turn of the event loop
 * (V8 frees the backing stores of dead ArrayBuffers in a task after the GC), then another GC.
 */
async function liveArrayBufferBytes(): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  await new Promise((resolve) => setTimeout(resolve, 0));
  return process.memoryUsage().arrayBuffers;
}

/**
 * The one contract every ObjectStore implementation passes. Each test works under its own random
 * prefix, so the suite can share one store (and one bucket) between tests.
 */
export function objectStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: ObjectStore;
    let tmp: string;
    const p = () => `t/${randomUUID()}/`;

    beforeAll(async () => {
      sut = await open();
      store = sut.store;
      tmp = await mkdtemp(path.join(os.tmpdir(), 'clipdock-store-contract-'));
    });
    afterAll(async () => {
      await sut?.close();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    it('puts a buffer and reads it back whole', async () => {
      const key = `${p()}buf`;
      const data = randomBytes(12_345);
      const info = await store.put(key, data);
      expect(info).toMatchObject({ key, size: data.length });
      expect(info.lastModified).toBeInstanceOf(Date);
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
    });

    it('puts a stream and reads it back whole', async () => {
      const key = `${p()}stream`;
      const data = randomBytes(300_000);
      const body = Readable.from([
        data.subarray(0, 1000),
        data.subarray(1000, 200_000),
        data.subarray(200_000),
      ]);
      const info = await store.put(key, body);
      expect(info.size).toBe(data.length);
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
    });

    it('puts a file from local disk', async () => {
      const key = `${p()}file.mp4`;
      const file = path.join(tmp, 'input.bin');
      const data = randomBytes(70_000);
      await writeFile(file, data);
      const info = await store.putFile(key, file, { contentType: 'video/mp4' });
      expect(info).toMatchObject({ key, size: data.length, contentType: 'video/mp4' });
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
      // The source file is the caller's to remove; the stored copy outlives it.
      await rm(file);
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
    });

    it('stores an empty object', async () => {
      const key = `${p()}empty`;
      await store.put(key, Buffer.alloc(0));
      expect((await store.head(key))?.size).toBe(0);
      expect((await readAll(await store.get(key))).length).toBe(0);
    });

    it('overwrites an existing key', async () => {
      const key = `${p()}over`;
      await store.put(key, Buffer.from('first version'), { contentType: 'text/plain' });
      await store.put(key, Buffer.from('second'), { contentType: 'application/json' });
      expect((await readAll(await store.get(key))).toString()).toBe('second');
      expect(await store.head(key)).toMatchObject({ size: 6, contentType: 'application/json' });
    });

    it('reads byte ranges: first byte, single byte, middle, last byte, through the end', async () => {
      const key = `${p()}ranges`;
      const data = randomBytes(10_000);
      await store.put(key, data);
      const range = async (start: number, end: number) => readAll(await store.get(key, { start, end }));
      expect((await range(0, 0)).equals(data.subarray(0, 1))).toBe(true);
      expect((await range(4321, 4321)).equals(data.subarray(4321, 4322))).toBe(true);
      expect((await range(100, 5099)).equals(data.subarray(100, 5100))).toBe(true);
      expect((await range(9999, 9999)).equals(data.subarray(9999))).toBe(true);
      expect((await range(9000, 9999)).equals(data.subarray(9000))).toBe(true);
      expect((await range(0, 9999)).equals(data)).toBe(true);
    });

    it('heads: size and content type, or undefined when absent', async () => {
      const prefix = p();
      await store.put(`${prefix}typed`, Buffer.from('abc'), { contentType: 'video/mp4' });
      await store.put(`${prefix}untyped`, Buffer.from('abcd'));
      expect(await store.head(`${prefix}typed`)).toMatchObject({ size: 3, contentType: 'video/mp4' });
      const untyped = await store.head(`${prefix}untyped`);
      expect(untyped?.size).toBe(4);
      expect(untyped?.contentType).toBeUndefined();
      expect(await store.head(`${prefix}absent`)).toBeUndefined();
    });

    it('sets the type of a stored object in place, keeping its bytes', async () => {
      const key = `${p()}original`;
      const data = randomBytes(70_000);
      await store.put(key, data, { contentType: 'text/html' });
      await store.setContentType(key, 'video/mp4');
      expect(await store.head(key)).toMatchObject({ size: data.length, contentType: 'video/mp4' });
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
      await expect(store.setContentType(`${p()}absent`, 'video/mp4')).rejects.toBeInstanceOf(
        StorageNotFoundError,
      );
    });

    it('get of an absent key throws StorageNotFoundError', async () => {
      await expect(store.get(`${p()}absent`)).rejects.toBeInstanceOf(StorageNotFoundError);
      await expect(store.get(`${p()}absent`, { start: 0, end: 9 })).rejects.toBeInstanceOf(
        StorageNotFoundError,
      );
    });

    it('deletes idempotently', async () => {
      const key = `${p()}gone`;
      await store.put(key, Buffer.from('x'));
      await store.delete(key);
      expect(await store.head(key)).toBeUndefined();
      await expect(store.delete(key)).resolves.toBeUndefined();
      await expect(store.delete(`${p()}never-existed`)).resolves.toBeUndefined();
    });

    it('deletes a prefix and nothing outside it', async () => {
      const base = p();
      const inside = [`${base}v/original`, `${base}v/poster.jpg`, `${base}v/hls/seg-1.ts`];
      const outside = [`${base}v2/original`, `${base}vx`];
      for (const k of [...inside, ...outside]) await store.put(k, Buffer.from(k));
      await store.deletePrefix(`${base}v/`);
      for (const k of inside) expect(await store.head(k)).toBeUndefined();
      for (const k of outside) expect(await store.head(k)).toBeDefined();
      expect((await store.list(`${base}v/`)).length).toBe(0);
      await expect(store.deletePrefix(`${base}v/`)).resolves.toBeUndefined();
    });

    it('lists in key order with plain string-prefix semantics', async () => {
      const base = p();
      const keys = [`${base}b`, `${base}a/2`, `${base}a/1`, `${base}ab`, `${base}c/d/e`];
      for (const k of keys) await store.put(k, Buffer.from(k), { contentType: 'text/plain' });
      const all = await store.list(base);
      expect(all.map((o) => o.key)).toEqual([...keys].sort());
      expect(all.find((o) => o.key === `${base}c/d/e`)?.size).toBe(`${base}c/d/e`.length);
      expect((await store.list(`${base}a/`)).map((o) => o.key)).toEqual([`${base}a/1`, `${base}a/2`]);
      expect((await store.list(`${base}a`)).map((o) => o.key)).toEqual([
        `${base}a/1`,
        `${base}a/2`,
        `${base}ab`,
      ]);
      expect(await store.list(`${base}zzz`)).toEqual([]);
      expect(await store.list(`${p()}`)).toEqual([]);
    });

    it('rejects keys that could escape the root or confuse S3', async () => {
      const bad = ['', '/abs', 'a/../b', '../up', 'a//b', 'a/./b', 'trailing/', 'nul\0byte', 'back\\slash'];
      for (const key of bad) {
        await expect(store.put(key, Buffer.from('x')), key).rejects.toThrow(/Invalid storage key/);
        await expect(store.get(key), key).rejects.toThrow(/Invalid storage key/);
        await expect(store.head(key), key).rejects.toThrow(/Invalid storage key/);
        await expect(store.delete(key), key).rejects.toThrow(/Invalid storage key/);
      }
    });

    it('streams a 20 MB put without holding the body in memory', async () => {
      const key = `${p()}big`;
      const total = 20 * 1024 * 1024;
      const chunkSize = 256 * 1024;
      const baseline = await liveArrayBufferBytes();
      let peak = 0;
      const sample = async (index: number) => {
        // Every 1 MiB and after the last chunk.
        if (index % 4 === 0 || index * chunkSize >= total) {
          peak = Math.max(peak, (await liveArrayBufferBytes()) - baseline);
        }
      };
      const body = Readable.from(lazyChunks(total, chunkSize, sample), { objectMode: false });
      const info = await store.put(key, body, { contentType: 'video/mp4' });
      expect(info.size).toBe(total);
      const expected = createHash('sha256');
      for await (const c of lazyChunks(total, chunkSize, async () => {})) expected.update(c);
      expect(await sha256(await store.get(key))).toBe(expected.digest('hex'));
      // A store that buffered the body would hold all 20 MiB at the last sample.
      expect(peak).toBeLessThan(12 * 1024 * 1024);
    });

    it('gives a signed URL that fetch() can read, where the store signs URLs', async () => {
      const key = `${p()}signed.mp4`;
      const data = randomBytes(5000);
      await store.put(key, data, { contentType: 'video/mp4' });
      const url = await store.signedUrl(key, 60);
      if (!sut.signsUrls) {
        expect(url).toBeUndefined();
        return;
      }
      expect(url).toMatch(/^https?:\/\//);
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
      const ranged = await fetch(url!, { headers: { range: 'bytes=10-19' } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(10, 20))).toBe(true);
    });

    it('serves a signed URL with the type and disposition it was signed with, not the stored type', async () => {
      const key = `${p()}declared-html`;
      // As a client could have declared it on upload.
      await store.put(key, Buffer.from('<script>alert(1)</script>'), { contentType: 'text/html' });
      const url = await store.signedUrl(key, 60, {
        contentType: 'application/octet-stream',
        contentDisposition: 'attachment',
      });
      if (!sut.signsUrls) {
        expect(url).toBeUndefined();
        return;
      }
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('content-disposition')).toBe('attachment');
      await res.arrayBuffer();
    });

    it('gives ffprobe a local path or a URL it can read, with ranges', async () => {
      const key = `${p()}probe.mp4`;
      const data = randomBytes(8000);
      await store.put(key, data);
      const where = await store.localPathOrUrl(key, 60);
      if (/^https?:\/\//.test(where)) {
        const res = await fetch(where);
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
        const ranged = await fetch(where, { headers: { range: 'bytes=7990-' } });
        expect(ranged.status).toBe(206);
        expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(7990))).toBe(true);
      } else {
        expect(path.isAbsolute(where)).toBe(true);
        expect((await readFile(where)).equals(data)).toBe(true);
      }
      await expect(store.localPathOrUrl(`${p()}absent`, 60)).rejects.toBeInstanceOf(StorageNotFoundError);
    });
  });
}
