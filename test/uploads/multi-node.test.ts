import http from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type Clipdock, startClipdock } from '../../src/server.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, headOffset, sha256, waitFor } from './helpers.ts';

let a: TestServer;
let b: Clipdock;
beforeAll(async () => {
  a = await startTestServer({ CLIPDOCK_ROLE: 'api' });
  // A second API node on the same database and data dir, as a second machine would be.
  const config = loadConfig({ ...a.env, CLIPDOCK_ROLE: 'api', PORT: '0' });
  b = await startClipdock(config, pino({ level: config.logLevel }));
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

const tusHeaders = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  'tus-resumable': '1.0.0',
  ...extra,
});

async function createUpload(token: string, endpoint: string, videoId: string, size: number): Promise<string> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: tusHeaders(token, {
      'upload-length': String(size),
      'upload-metadata': `videoId ${Buffer.from(videoId).toString('base64')}`,
    }),
  });
  expect(res.status).toBe(201);
  return new URL(res.headers.get('location')!).pathname;
}

async function patch(base: string, path: string, token: string, offset: number, data: Buffer) {
  return fetch(`${base}${path}`, {
    method: 'PATCH',
    headers: tusHeaders(token, {
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
    }),
    body: new Uint8Array(data),
  });
}

describe('two API nodes', () => {
  it('serve the PATCHes of one upload in turn', async () => {
    const u = await signUp(a.url);
    const body = fakeMp4(6 * 1024 * 1024 + 17);
    const { files } = await createSession(u.api, [{ name: 'shared.mp4', size: body.length }]);
    const file = files[0]!;
    const path = await createUpload(u.token, `${a.url}/api/uploads`, file.videoId, body.length);
    const nodes = [a.url, b.url!];
    const chunk = 1024 * 1024;
    for (let offset = 0, i = 0; offset < body.length; offset += chunk, i++) {
      const base = nodes[i % 2]!;
      expect(await headOffset(`${base}${path}`, u.token)).toBe(offset);
      const res = await patch(base, path, u.token, offset, body.subarray(offset, offset + chunk));
      expect(res.status).toBe(204);
    }
    const v = await a.node.ctx.db
      .selectFrom('videos')
      .selectAll()
      .where('id', '=', file.videoId)
      .executeTakeFirstOrThrow();
    expect(v.status).toBe('uploaded');
    for (const base of nodes) {
      const res = await fetch(`${base}/api/videos/${file.videoId}/original`, {
        headers: tusHeaders(u.token),
      });
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
    }
  });

  it('hand the lock over: a HEAD on one node makes a stalled PATCH on the other let go', async () => {
    const u = await signUp(a.url);
    const body = fakeMp4(4 * 1024 * 1024);
    const { files } = await createSession(u.api, [{ name: 'stalled.mp4', size: body.length }]);
    const file = files[0]!;
    const path = await createUpload(u.token, `${a.url}/api/uploads`, file.videoId, body.length);

    // A client that sends 1 MiB of a 4 MiB PATCH and then goes silent (a half-open connection).
    const first = 1024 * 1024;
    const stalled = http.request(`${a.url}${path}`, {
      method: 'PATCH',
      headers: tusHeaders(u.token, {
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': String(body.length),
      }),
    });
    const stalledAnswer = new Promise<number>((resolve) => {
      stalled.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      stalled.on('error', () => resolve(-1));
    });
    stalled.write(body.subarray(0, first));
    // Wait until node A holds the lock and has stored some of those bytes.
    await waitFor(() => stalledHasWritten(a, file.videoId));

    // Node B can only answer once node A released the upload: the stalled request is ended.
    const offset = await headOffset(`${b.url}${path}`, u.token);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(first);
    // tus ends the stalled request cleanly, acknowledging what it stored (or drops the connection).
    expect([204, -1]).toContain(await stalledAnswer);
    stalled.destroy();

    const rest = await patch(b.url!, path, u.token, offset, body.subarray(offset));
    expect(rest.status).toBe(204);
    const res = await fetch(`${a.url}/api/videos/${file.videoId}/original`, { headers: tusHeaders(u.token) });
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
  });
});

/** True once the partial file on disk holds bytes of the stalled PATCH. */
async function stalledHasWritten(server: TestServer, videoId: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  const st = await stat(`${server.node.ctx.config.uploadsDir}/${videoId}`).catch(() => undefined);
  return (st?.size ?? 0) > 0;
}
