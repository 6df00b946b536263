import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import {
  createSession,
  fakeMp4,
  headOffset,
  type SessionFile,
  startTus,
  tusCreate,
  waitFor,
} from './helpers.ts';

/**
 * Slow and greedy upload clients, as an attacker runs them: many PATCH requests from one account
 * that send a little and then trickle or go silent. A short idle timeout keeps the test quick.
 */
const LIMIT = 8;
let server: TestServer;
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clipdock-stalled-'));
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    BODY_IDLE_TIMEOUT_SECONDS: '3',
    MAX_CONCURRENT_UPLOADS_PER_USER: String(LIMIT),
    // Room for one attacker's LIMIT requests plus one honest upload, not for two attackers.
    LOCK_POOL_SIZE: '10',
    MAX_FILES_PER_SESSION: '100',
    STARTING_CREDITS: '10000',
  });
});
afterAll(async () => {
  for (const s of open) s.socket.destroy();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface RawPatch {
  socket: net.Socket;
  /** The reply's status and headers, or undefined when the server closed without one. */
  result: Promise<{ status: number | undefined; head: string }>;
  /** Sends `n` more body bytes (a trickle). */
  trickle(n?: number): void;
}
const open: RawPatch[] = [];

/** A tus PATCH written by hand: headers for the whole file, then only `first`, then nothing. */
function rawPatch(uploadUrl: string, token: string, size: number, first: Buffer, offset = 0): RawPatch {
  const url = new URL(uploadUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.write(
    [
      `PATCH ${url.pathname} HTTP/1.1`,
      `Host: ${url.host}`,
      `Authorization: Bearer ${token}`,
      'Tus-Resumable: 1.0.0',
      `Upload-Offset: ${offset}`,
      'Content-Type: application/offset+octet-stream',
      `Content-Length: ${size - offset}`,
      '',
      '',
    ].join('\r\n'),
  );
  socket.write(first);
  let received = '';
  socket.on('data', (d) => {
    received += d.toString('latin1');
  });
  const result = new Promise<{ status: number | undefined; head: string }>((resolve) => {
    const done = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      resolve({ status: m ? Number(m[1]) : undefined, head: received.split('\r\n\r\n')[0] ?? '' });
    };
    socket.on('data', () => {
      if (received.includes('\r\n\r\n')) done();
    });
    socket.on('close', done);
    socket.on('error', () => {});
  });
  const p: RawPatch = {
    socket,
    result,
    trickle: (n = 1) => {
      if (!socket.destroyed) socket.write(Buffer.alloc(n, 7));
    },
  };
  open.push(p);
  return p;
}

/** Advisory locks held in this test's database: one per tus request holding its upload's lock. */
async function heldLocks(): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM pg_locks
    WHERE locktype = 'advisory' AND granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(
    server.node.ctx.db,
  );
  return Number(rows[0]?.n);
}

/** `n` videos of `size` bytes in one session, each created with tus (POST), ready for a PATCH. */
async function createdUploads(user: Awaited<ReturnType<typeof signUp>>, n: number, size: number) {
  const { files } = await createSession(
    user.api,
    Array.from({ length: n }, (_, i) => ({ name: `clip-${i}.mp4`, size, type: 'video/mp4' })),
  );
  const urls: string[] = [];
  for (const file of files) {
    const res = await tusCreate(file, user.token, { length: size });
    expect(res.status).toBe(201);
    urls.push(res.headers.get('location')!);
  }
  return { files, urls };
}

/** Keeps the given requests alive with one byte a second, well inside the idle timeout. */
function keepTrickling(patches: RawPatch[]): () => void {
  const t = setInterval(() => {
    for (const p of patches) p.trickle();
  }, 1000);
  return () => clearInterval(t);
}

describe('slow and greedy upload clients', () => {
  it('bounds silence, never total time: header, idle and keep-alive timeouts are set', () => {
    const http = server.node.http!.app.server;
    expect(http.headersTimeout).toBe(20_000);
    expect(http.timeout).toBe(3_000); // BODY_IDLE_TIMEOUT_SECONDS
    expect(http.keepAliveTimeout).toBe(72_000);
    expect(http.requestTimeout).toBe(0); // a 10 GiB PATCH may take hours
  });

  it("70 trickling uploads from one account do not hold up another user's upload", async () => {
    const attacker = await signUp(server.url);
    const size = 1024 * 1024;
    const { urls } = await createdUploads(attacker, 70, size);
    const stalled = urls.map((u) => rawPatch(u, attacker.token, size, fakeMp4(size).subarray(0, 1)));
    const stop = keepTrickling(stalled);
    try {
      // All but LIMIT are refused at once; LIMIT hold their upload's lock, trickling.
      const refused = await waitFor(async () => {
        const settled = await Promise.all(
          stalled.map((p) => Promise.race([p.result, Promise.resolve(undefined)])),
        );
        const done = settled.filter((r) => r !== undefined);
        return done.length >= 70 - LIMIT && done;
      });
      expect(refused.map((r) => r.status)).toEqual(Array(70 - LIMIT).fill(429));
      for (const r of refused) expect(r.head.toLowerCase()).toContain('retry-after: 5');
      await waitFor(async () => (await heldLocks()) === LIMIT);
      const another = await fetch(urls[0]!, {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${attacker.token}`,
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(1),
      });
      expect(another.status).toBe(429);
      expect(((await another.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_UPLOADS');

      // Meanwhile an honest user uploads a real video with a stock tus client, without retries.
      const honest = await signUp(server.url);
      const video = await readFile(await makeGood('h264_aac_mov', tmp));
      const { files } = await createSession(honest.api, [
        { name: 'phone.mov', size: video.length, type: 'video/quicktime' },
      ]);
      await startTus(video, { token: honest.token, file: files[0]! }).done;
      const row = await server.node.ctx.db
        .selectFrom('videos')
        .select(['status', 'received_bytes'])
        .where('id', '=', files[0]!.videoId)
        .executeTakeFirstOrThrow();
      expect(row.status).toBe('uploaded');
      expect(Number(row.received_bytes)).toBe(video.length);
    } finally {
      stop();
    }
    // The attacker's LIMIT requests, left silent, are closed by the idle timeout without a reply.
    const all = await Promise.all(stalled.map((p) => p.result));
    expect(all.filter((r) => r.status === undefined)).toHaveLength(LIMIT);
    expect(all.filter((r) => r.status === 429)).toHaveLength(70 - LIMIT);
    await waitFor(async () => (await heldLocks()) === 0);
    // Their slots were given back: the attacker's next upload request is served again.
    const offset = await headOffset(urls[0]!, attacker.token);
    const resumed = await fetch(urls[0]!, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${attacker.token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(fakeMp4(size).subarray(offset, offset + 1)),
    });
    expect(resumed.status).toBe(204);
  }, 180_000);

  it('when every lock connection is held, an upload request gets 503 UPLOADS_BUSY with Retry-After', async () => {
    const size = 1024 * 1024;
    // Two accounts, each within its own limit, together hold more than the pool's 10 connections.
    const a = await signUp(server.url);
    const b = await signUp(server.url);
    const ua = await createdUploads(a, LIMIT, size);
    const ub = await createdUploads(b, LIMIT, size);
    const first = fakeMp4(size).subarray(0, 1);
    const holding = ua.urls.map((u) => rawPatch(u, a.token, size, first));
    const stop = keepTrickling(holding);
    try {
      await waitFor(async () => (await heldLocks()) === LIMIT);
      const more = ub.urls.map((u) => rawPatch(u, b.token, size, first));
      const stopMore = keepTrickling(more);
      try {
        // 2 connections were left: 2 of b's requests get one, the other 6 wait and are refused.
        const refused = await waitFor(async () => {
          const settled = await Promise.all(
            more.map((p) => Promise.race([p.result, Promise.resolve(undefined)])),
          );
          const done = settled.filter((r) => r !== undefined);
          return done.length >= LIMIT - 2 && done;
        });
        expect(refused.map((r) => r.status)).toEqual(Array(LIMIT - 2).fill(503));
        for (const r of refused) {
          expect(r.head.toLowerCase()).toContain('retry-after: 5');
        }
      } finally {
        stopMore();
      }
      for (const p of more) p.socket.destroy();
    } finally {
      stop();
    }
    for (const p of holding) p.socket.destroy();
    await waitFor(async () => (await heldLocks()) === 0);
    // Refused, not broken: the upload is there to resume once connections are free.
    expect(await headOffset(ub.urls[0]!, b.token)).toBe(0);
  }, 180_000);

  it('a body that goes silent is closed, keeps the bytes received, and resumes to the end', async () => {
    const user = await signUp(server.url);
    const video = await readFile(await makeGood('h264_aac_mov', tmp));
    const { files } = await createSession(user.api, [
      { name: 'phone.mov', size: video.length, type: 'video/quicktime' },
    ]);
    const file: SessionFile = files[0]!;
    const created = await tusCreate(file, user.token, { length: video.length });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;

    const sent = 64 * 1024;
    expect(video.length).toBeGreaterThan(sent);
    const silent = rawPatch(url, user.token, video.length, video.subarray(0, sent));
    // Closed by the server (no reply): the client never ends its body.
    expect((await silent.result).status).toBeUndefined();

    expect(await waitFor(async () => (await headOffset(url, user.token)) === sent || false)).toBe(true);
    const rest = await fetch(url, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${user.token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': String(sent),
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(video.subarray(sent)),
    });
    expect(rest.status).toBe(204);
    expect(rest.headers.get('upload-offset')).toBe(String(video.length));
    const row = await server.node.ctx.db
      .selectFrom('videos')
      .select(['status'])
      .where('id', '=', file.videoId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('uploaded');
  }, 120_000);
});
