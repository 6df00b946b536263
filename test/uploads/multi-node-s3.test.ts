import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Env, startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { connectLive, startNode } from '../live/helpers.ts';
import { makeGood } from '../media/fixtures.ts';
import { createSession, fakeMp4, headOffset, sha256, waitFor } from './helpers.ts';

/**
 * Scaled out on S3: two API nodes and one worker node on one PostgreSQL and one bucket (s3rver),
 * each with a data dir of its own (no shared disk). An upload begun on A resumes on B, the worker
 * processes it, the original comes back byte-identical from either API node, and a socket on A
 * sees the worker's steps. No upload byte ever lands on an API node's disk.
 */
const MiB = 1024 * 1024;
let s3: TestS3;
let a: TestServer;
let b: Awaited<ReturnType<typeof startNode>>;
let worker: Awaited<ReturnType<typeof startNode>>;
const dirs: string[] = [];
let clip: Buffer;

const tempDir = async (name: string) => {
  const d = await mkdtemp(path.join(os.tmpdir(), `clipdock-${name}-`));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  s3 = await startS3rver();
  const c = s3.config;
  a = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    ...s3Env(c),
    S3_UPLOAD_PART_MIB: '5',
    FFMPEG_THREADS: '1',
  });
  b = await startNode({ ...a.env, CLIPDOCK_ROLE: 'api', CLIPDOCK_DATA_DIR: await tempDir('node-b') });
  worker = await startNode({ ...a.env, CLIPDOCK_ROLE: 'worker', CLIPDOCK_DATA_DIR: await tempDir('worker') });
  // A real clip followed by a 12 MiB `free` box (ignored by every reader): three parts' worth.
  const small = await readFile(await makeGood('h264_aac_mov', await tempDir('clip')));
  const pad = Buffer.concat([Buffer.alloc(8), randomBytes(12 * MiB)]);
  pad.writeUInt32BE(pad.length, 0);
  pad.write('free', 4, 'latin1');
  clip = Buffer.concat([small, pad]);
}, 180_000);
afterAll(async () => {
  await worker?.stop();
  await b?.stop();
  await a?.stop();
  await s3?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const tusHeaders = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  'tus-resumable': '1.0.0',
  ...extra,
});

async function patch(url: string, token: string, offset: number, data: Buffer): Promise<void> {
  const res = await fetch(url, {
    method: 'PATCH',
    headers: tusHeaders(token, {
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
    }),
    body: new Uint8Array(data),
  });
  expect(res.status, await res.clone().text()).toBe(204);
}

describe('two API nodes and a worker on S3', () => {
  it('an upload begun on A resumes on B, is processed by the worker, and is served by both', {
    timeout: 180_000,
  }, async () => {
    const u = await signUp(a.url);
    const client = await connectLive(a.url, u.token);
    await client.waitFor((m) => m.type === 'synced');
    const session = await createSession(u.api, [
      { name: 'phone.mov', size: clip.length, type: 'video/quicktime' },
    ]);
    const videoId = session.files[0]!.videoId;
    const from = client.messages.length;
    client.send({ type: 'subscribe', sessionId: session.sessionId });
    await client.waitFor((m) => m.type === 'synced', { from });

    const created = await fetch(`${a.url}/api/uploads`, {
      method: 'POST',
      headers: tusHeaders(u.token, {
        'upload-length': String(clip.length),
        'upload-metadata': `videoId ${Buffer.from(videoId).toString('base64')}`,
      }),
    });
    expect(created.status).toBe(201);
    const pathname = new URL(created.headers.get('location')!).pathname;
    // Part 1 and a tail on A.
    const first = 7 * MiB + 123;
    await patch(`${a.url}${pathname}`, u.token, 0, clip.subarray(0, first));
    // B knows where it stands from the database alone, and takes the rest in two requests.
    expect(await headOffset(`${b.url}${pathname}`, u.token)).toBe(first);
    const second = 11 * MiB;
    await patch(`${b.url}${pathname}`, u.token, first, clip.subarray(first, second));
    expect(await headOffset(`${a.url}${pathname}`, u.token)).toBe(second);
    await patch(`${b.url}${pathname}`, u.token, second, clip.subarray(second));

    // The worker's steps reach the socket on A.
    await client.waitFor((m) => m.videoId === videoId && m.status === 'ready', { from, timeoutMs: 150_000 });
    const steps = new Set(
      client.messages.filter((m) => m.videoId === videoId && m.status === 'processing').map((m) => m.step),
    );
    expect(steps).toContain('probe');
    expect(steps).toContain('normalize');
    client.close();

    for (const base of [a.url, b.url]) {
      const res = await fetch(`${base}/api/videos/${videoId}/original`, { headers: tusHeaders(u.token) });
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(clip));
    }
    // Nothing on the API nodes' disks, no multipart upload left open.
    for (const node of [a.node, b]) {
      expect(await readdir(node.ctx.config.uploadsDir).catch(() => [])).toEqual([]);
    }
    expect(await s3.openMultipartUploads()).toEqual([]);
  });

  it('hand the lock over: a HEAD on B makes a stalled PATCH on A store what it has and let go', async () => {
    const u = await signUp(a.url);
    const body = fakeMp4(12 * MiB);
    const { files } = await createSession(u.api, [{ name: 'stalled.mp4', size: body.length }]);
    const videoId = files[0]!.videoId;
    const created = await fetch(`${a.url}/api/uploads`, {
      method: 'POST',
      headers: tusHeaders(u.token, {
        'upload-length': String(body.length),
        'upload-metadata': `videoId ${Buffer.from(videoId).toString('base64')}`,
      }),
    });
    expect(created.status).toBe(201);
    const pathname = new URL(created.headers.get('location')!).pathname;
    // A client that sends 6 MiB of a 12 MiB PATCH to A and then goes silent.
    const sent = 6 * MiB;
    const stalled = http.request(`${a.url}${pathname}`, {
      method: 'PATCH',
      headers: tusHeaders(u.token, {
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': String(body.length),
      }),
    });
    const answer = new Promise<number>((resolve) => {
      stalled.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      stalled.on('error', () => resolve(-1));
    });
    stalled.write(body.subarray(0, sent));
    // A has sent the first part to the bucket.
    await waitFor(async () => {
      const v = await a.node.ctx.db
        .selectFrom('videos')
        .select('received_bytes')
        .where('id', '=', videoId)
        .executeTakeFirst();
      return Number(v?.received_bytes) >= 5 * MiB;
    });
    // B can only answer once A let go, having stored the part and what followed it as the tail.
    const offset = await headOffset(`${b.url}${pathname}`, u.token);
    expect(offset).toBeGreaterThanOrEqual(5 * MiB);
    expect(offset).toBeLessThanOrEqual(sent);
    expect([204, -1]).toContain(await answer);
    stalled.destroy();
    await patch(`${b.url}${pathname}`, u.token, offset, body.subarray(offset));
    const res = await fetch(`${a.url}/api/videos/${videoId}/original`, { headers: tusHeaders(u.token) });
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
  });
});
