import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releasingFs } from '../../src/uploads/release-written.ts';

/**
 * The partial file's writer gives each socket chunk's memory back once it is on disk: a real
 * HTTP request body piped into a real fs.WriteStream (as tus-server.ts opens it), with every
 * chunk the server received kept for inspection.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-release-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const openWrite = (file: string) =>
  createWriteStream(file, { flags: 'w', highWaterMark: 1024 * 1024, fs: releasingFs });

describe('releasing written chunks', () => {
  it('frees every body chunk once written, and the file holds exactly the bytes sent', async () => {
    const body = randomBytes(8 * 1024 * 1024 + 777);
    const file = path.join(dir, 'body.bin');
    const received: Buffer[] = [];
    const server = http.createServer((req, res) => {
      req.on('data', (chunk: Buffer) => received.push(chunk));
      pipeline(req, openWrite(file)).then(
        () => res.writeHead(204).end(),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'PATCH' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        // In pieces, so the server reads many chunks and batches some of them (writev).
        for (let at = 0; at < body.length; at += 256 * 1024) req.write(body.subarray(at, at + 256 * 1024));
        req.end();
      });
      expect(status).toBe(204);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    expect(Buffer.compare(await readFile(file), body)).toBe(0);
    expect(received.length).toBeGreaterThan(10);
    // Each socket read is a Buffer of its own memory: every one big enough to be worth it was
    // detached after its write (its length is 0 now), which is most of the body. (How many reads
    // come in under 4 KiB depends on the machine's load: at load 12 they were 1.3 % of it.)
    const kept = received.filter((c) => c.byteLength > 0);
    expect(kept.every((c) => c.byteLength < 4096)).toBe(true);
    expect(kept.reduce((n, c) => n + c.byteLength, 0)).toBeLessThan(body.length / 10);
  });

  it('leaves shared, pooled and small buffers alone (the GC frees them as before)', async () => {
    const file = path.join(dir, 'shared.bin');
    const big = randomBytes(256 * 1024);
    const view = big.subarray(1024, 200 * 1024); // a view into memory someone else holds
    const pooled = Buffer.from('pooled bytes'); // Node's shared 8 KiB pool
    const small = Buffer.alloc(1000, 7); // its own memory, but below the release threshold
    const own = Buffer.alloc(64 * 1024, 9); // its own memory: released
    const out = openWrite(file);
    for (const b of [view, pooled, small, own]) out.write(b);
    out.end();
    await new Promise<void>((resolve, reject) => {
      out.on('finish', () => resolve());
      out.on('error', reject);
    });

    expect(
      Buffer.compare(await readFile(file), Buffer.concat([view, pooled, small, Buffer.alloc(64 * 1024, 9)])),
    ).toBe(0);
    expect(view.byteLength).toBe(199 * 1024);
    expect(big.byteLength).toBe(256 * 1024);
    expect(pooled.toString()).toBe('pooled bytes');
    expect(small.byteLength).toBe(1000);
    expect(own.byteLength).toBe(0);
  });
});
