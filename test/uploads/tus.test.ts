import http from 'node:http';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIDEO_CHANNEL } from '../../src/events/video-events.ts';
import { finishUpload } from '../../src/uploads/finish.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, headOffset, sha256, startTus, tusCreate, waitFor } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  // API only: no worker, so a finished upload's processing job stays queued where the test sees it.
  server = await startTestServer({ STARTING_CREDITS: '100', CREDITS_PER_VIDEO: '10', CLIPDOCK_ROLE: 'api' });
});
afterAll(async () => {
  await server?.stop();
});

const db = () => server.node.ctx.db;
const video = (id: string) =>
  db().selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const credits = async (api: (p: string) => Promise<Response>) =>
  ((await (await api('/api/me')).json()) as { credits: { balance: number; reserved: number } }).credits;

describe('tus uploads', () => {
  it('resumes an interrupted 50 MB upload from the server offset with a new client, byte-identical', async () => {
    const alice = await signUp(server.url);
    const body = fakeMp4(50 * 1024 * 1024 + 12345);
    const { sessionId, files } = await createSession(alice.api, [
      { name: 'holiday.mp4', size: body.length, type: 'video/mp4' },
    ]);
    const file = files[0]!;
    expect(file.upload.endpoint).toBe(`${server.url}/api/uploads`);
    expect(file.upload.metadata).toMatchObject({ videoId: file.videoId, filename: 'holiday.mp4' });

    const first = startTus(body, { token: alice.token, file, chunkSize: 4 * 1024 * 1024 });
    await first.reached(16 * 1024 * 1024);
    await first.upload.abort();
    const url = first.upload.url!;
    expect(url).toBe(`${server.url}/api/uploads/${file.videoId}`);
    const offset = await headOffset(url, alice.token);
    expect(offset).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(offset).toBeLessThan(body.length);
    expect((await video(file.videoId)).status).toBe('uploading');

    // Retries on: a PATCH the aborted client had already started may still land after the HEAD,
    // and a stock client recovers from the resulting 409 with another HEAD.
    const second = startTus(body, {
      token: alice.token,
      uploadUrl: url,
      chunkSize: 8 * 1024 * 1024,
      retry: true,
    });
    await second.done;

    const v = await video(file.videoId);
    expect(v.status).toBe('uploaded');
    expect(v.storage_key).toBe(`videos/${file.videoId}/original`);
    expect(Number(v.received_bytes)).toBe(body.length);
    expect(v.mime_type).toBe('video/mp4');
    expect(v.upload_resumes).toBeGreaterThanOrEqual(1);

    const original = await alice.api(`/api/videos/${file.videoId}/original`);
    expect(original.status).toBe(200);
    expect(original.headers.get('content-disposition')).toContain('holiday.mp4');
    expect(sha256(Buffer.from(await original.arrayBuffer()))).toBe(sha256(body));

    const ranged = await alice.api(`/api/videos/${file.videoId}/original`, {
      headers: { range: 'bytes=1000000-1999999' },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000000-1999999/${body.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(body.subarray(1_000_000, 2_000_000))).toBe(true);
    const tail = await alice.api(`/api/videos/${file.videoId}/original`, {
      headers: { range: 'bytes=-100' },
    });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(body.subarray(body.length - 100))).toBe(true);

    // Session counters, metrics, and exactly one processing job under the video's key.
    const session = (await (await alice.api(`/api/upload-sessions/${sessionId}`)).json()) as {
      uploadedCount: number;
      uploadedBytes: number;
      completedAt: string | null;
      counts: Record<string, number>;
    };
    expect(session).toMatchObject({ uploadedCount: 1, uploadedBytes: body.length, counts: { uploaded: 1 } });
    expect(session.completedAt).not.toBeNull();
    const metrics = await db()
      .selectFrom('upload_metrics')
      .selectAll()
      .where('video_id', '=', file.videoId)
      .execute();
    expect(metrics).toHaveLength(1);
    expect(Number(metrics[0]!.size_bytes)).toBe(body.length);
    expect(metrics[0]!.resumes).toBeGreaterThanOrEqual(1);

    const jobs = () =>
      sql<{
        n: string;
      }>`SELECT count(*) AS n FROM graphile_worker._private_jobs WHERE key = ${`process_video:${file.videoId}`}`
        .execute(db())
        .then((r) => Number(r.rows[0]!.n));
    expect(await jobs()).toBe(1);
    expect(await finishUpload(server.node.ctx, file.videoId)).toBe(false);
    expect(await jobs()).toBe(1);

    // A finished upload reports itself complete to a late HEAD, and refuses more bytes.
    expect(await headOffset(url, alice.token)).toBe(body.length);
    const late = await fetch(url, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${alice.token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': String(body.length),
        'content-type': 'application/offset+octet-stream',
      },
      body: '',
    });
    expect(late.status).toBe(409);
  });

  it("refuses another user's HEAD, PATCH, DELETE, /original and creation with 404", async () => {
    const alice = await signUp(server.url);
    const mallory = await signUp(server.url);
    const body = fakeMp4(300_000);
    const { files } = await createSession(alice.api, [{ name: 'a.mp4', size: body.length }]);
    const file = files[0]!;

    const stolenCreate = await tusCreate(file, mallory.token, { length: body.length });
    expect(stolenCreate.status).toBe(404);
    expect(((await stolenCreate.json()) as { error: { code: string } }).error.code).toBe('VIDEO_NOT_FOUND');

    const created = await tusCreate(file, alice.token, { length: body.length });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    const as = (token: string, method: string, headers: Record<string, string> = {}, b?: Buffer) =>
      fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', ...headers },
        ...(b ? { body: new Uint8Array(b) } : {}),
      });
    const firstPart = await as(
      alice.token,
      'PATCH',
      { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body.subarray(0, 100_000),
    );
    expect(firstPart.status).toBe(204);
    const offset = await headOffset(url, alice.token);
    expect(offset).toBe(100_000);
    expect((await as(mallory.token, 'HEAD')).status).toBe(404);
    const patch = await as(
      mallory.token,
      'PATCH',
      { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
      body.subarray(offset, offset + 1000),
    );
    expect(patch.status).toBe(404);
    expect(((await patch.json()) as { error: { code: string } }).error.code).toBe('UPLOAD_NOT_FOUND');
    expect((await as(mallory.token, 'DELETE')).status).toBe(404);
    expect((await mallory.api(`/api/videos/${file.videoId}/original`)).status).toBe(404);
    expect((await as('cdk_nope', 'HEAD')).status).toBe(401);
    const anon = await fetch(url, { method: 'PATCH', headers: { 'tus-resumable': '1.0.0' } });
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');

    // Untouched by all that: alice finishes.
    expect(await headOffset(url, alice.token)).toBe(offset);
    await startTus(body, { token: alice.token, uploadUrl: url }).done;
    const original = await alice.api(`/api/videos/${file.videoId}/original`);
    expect(sha256(Buffer.from(await original.arrayBuffer()))).toBe(sha256(body));
  });

  it('binds creation to the declared video: wrong length, missing metadata and reuse are refused', async () => {
    const alice = await signUp(server.url);
    const body = fakeMp4(50_000);
    const { files } = await createSession(alice.api, [{ name: 'a.mov', size: body.length }]);
    const file = files[0]!;
    const create = (headers: Record<string, string>) =>
      fetch(file.upload.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.token}`, 'tus-resumable': '1.0.0', ...headers },
      });
    const meta = `videoId ${Buffer.from(file.videoId).toString('base64')}`;
    const wrongLength = await create({ 'upload-length': '49999', 'upload-metadata': meta });
    expect(wrongLength.status).toBe(400);
    expect(((await wrongLength.json()) as { error: { code: string } }).error.code).toBe(
      'UPLOAD_LENGTH_MISMATCH',
    );
    const noMeta = await create({ 'upload-length': '50000' });
    expect(noMeta.status).toBe(400);
    expect(((await noMeta.json()) as { error: { code: string } }).error.code).toBe('UPLOAD_METADATA_MISSING');

    await startTus(body, { token: alice.token, file }).done;
    expect((await video(file.videoId)).status).toBe('uploaded');
    const again = await create({ 'upload-length': '50000', 'upload-metadata': meta });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe(
      'VIDEO_NOT_AWAITING_UPLOAD',
    );

    // creation-with-upload carrying the whole file: finished within the POST.
    const small = fakeMp4(70_000);
    const { files: more } = await createSession(alice.api, [{ name: 'whole.mp4', size: small.length }]);
    const whole = await tusCreate(more[0]!, alice.token, { length: small.length, body: small });
    expect(whole.status).toBe(201);
    expect(whole.headers.get('upload-offset')).toBe(String(small.length));
    expect((await video(more[0]!.videoId)).status).toBe('uploaded');
    const back = await alice.api(`/api/videos/${more[0]!.videoId}/original`);
    expect(sha256(Buffer.from(await back.arrayBuffer()))).toBe(sha256(small));
  });

  it('stops a text file named .mp4 in its first chunk: 415, video failed, credits released', async () => {
    const alice = await signUp(server.url);
    const text = Buffer.from('Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n'.repeat(20_000));
    const before = await credits(alice.api);
    const { files } = await createSession(alice.api, [{ name: 'notes.mp4', size: text.length }]);
    const file = files[0]!;
    expect((await credits(alice.api)).reserved).toBe(before.reserved + 10);

    const run = startTus(text, { token: alice.token, file, chunkSize: 64 * 1024 });
    const err = (await run.done.then(
      () => undefined,
      (e: unknown) => e,
    )) as { originalResponse?: { getStatus(): number; getBody(): string } } | undefined;
    expect(err?.originalResponse?.getStatus()).toBe(415);
    const errBody = JSON.parse(err!.originalResponse!.getBody()) as {
      error: { code: string; message: string };
    };
    expect(errBody.error.code).toBe('NOT_A_VIDEO');
    expect(errBody.error.message).toMatch(/text file/);

    const v = await video(file.videoId);
    expect(v.status).toBe('failed');
    expect(v.error_code).toBe('NOT_A_VIDEO');
    expect(v.error_message).toMatch(/looks like a text file/);
    expect(Number(v.received_bytes)).toBe(0);
    expect(await credits(alice.api)).toEqual(before);
    const usage = (await (await alice.api('/api/me')).json()) as { storage: { usedBytes: number } };
    expect(usage.storage.usedBytes).toBe(0);

    // A PNG in one big streamed PATCH: answered 415 while the client is still sending.
    const png = Buffer.alloc(32 * 1024 * 1024, 7);
    Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex').copy(png);
    const { files: pngFiles } = await createSession(alice.api, [{ name: 'shot.mov', size: png.length }]);
    const pngFile = pngFiles[0]!;
    const created = await tusCreate(pngFile, alice.token, { length: png.length });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    const { status, sentWhenAnswered, body } = await streamedPatch(location, alice.token, png);
    expect(status).toBe(415);
    expect(JSON.parse(body).error.message).toMatch(/PNG image/);
    expect(sentWhenAnswered).toBeLessThan(png.length / 2);
    const pv = await video(pngFile.videoId);
    expect(pv).toMatchObject({ status: 'failed', error_code: 'NOT_A_VIDEO' });
    expect(await credits(alice.api)).toEqual(before);
  });

  it('writes progress to the video and publishes it as events, ending with the final offset', async () => {
    const alice = await signUp(server.url);
    const body = fakeMp4(3_000_000);
    const { files } = await createSession(alice.api, [{ name: 'progress.mp4', size: body.length }]);
    const file = files[0]!;
    const listener = new pg.Client({ connectionString: server.databaseUrl });
    await listener.connect();
    const events: Array<{ status: string; progress: number; step: string | null }> = [];
    listener.on('notification', (msg) => {
      const e = JSON.parse(msg.payload ?? '{}') as {
        videoId: string;
        status: string;
        progress: number;
        step: null;
      };
      if (e.videoId === file.videoId) events.push(e);
    });
    await listener.query(`LISTEN ${VIDEO_CHANNEL}`);
    try {
      const created = await tusCreate(file, alice.token, {
        length: body.length,
        body: body.subarray(0, 1_000_000),
      });
      expect(created.status).toBe(201);
      const v = await waitFor(async () => {
        const row = await video(file.videoId);
        return Number(row.received_bytes) === 1_000_000 && row;
      });
      expect(v.upload_progress).toBeCloseTo(33.33, 1);
      expect(v.mime_type).toBe('video/mp4');
      await startTus(body, {
        token: alice.token,
        uploadUrl: created.headers.get('location')!,
        chunkSize: 500_000,
      }).done;
      await waitFor(async () => events.some((e) => e.status === 'uploaded'));
      expect(events[0]).toMatchObject({ status: 'uploading', progress: 0, step: null });
      expect(events.some((e) => e.status === 'uploading' && e.progress === 33)).toBe(true);
      expect(events.at(-1)).toMatchObject({ status: 'uploaded', progress: 100 });
      const progresses = events.filter((e) => e.status === 'uploading').map((e) => e.progress);
      expect(progresses).toEqual([...progresses].sort((a, b) => a - b));
    } finally {
      await listener.end();
    }
  });

  it('termination cancels the video, releases its credits and deletes the partial bytes', async () => {
    const alice = await signUp(server.url);
    const body = fakeMp4(3 * 1024 * 1024);
    const before = await credits(alice.api);
    const { files } = await createSession(alice.api, [{ name: 'gone.webm', size: body.length }]);
    const file = files[0]!;
    const run = startTus(body, { token: alice.token, file, chunkSize: 1024 * 1024 });
    await run.reached(1024 * 1024);
    await run.upload.abort(true);
    await waitFor(async () => (await video(file.videoId)).status === 'canceled');
    expect(await credits(alice.api)).toEqual(before);
    const me = (await (await alice.api('/api/me')).json()) as { storage: { usedBytes: number } };
    expect(me.storage.usedBytes).toBe(0);
    const { existsSync } = await import('node:fs');
    const partial = `${server.node.ctx.config.uploadsDir}/${file.videoId}`;
    await waitFor(async () => !existsSync(partial) && !existsSync(`${partial}.json`));
    expect(await headOffset(run.upload.url!, alice.token).catch((e: Error) => e.message)).toMatch(/404/);
  });
});

/** One PATCH whose body is written in 64 KiB pieces, each after the previous drained. */
function streamedPatch(
  url: string,
  token: string,
  data: Buffer,
): Promise<{ status: number; sentWhenAnswered: number; body: string }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request(url, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': data.length,
      },
    });
    req.on('response', (res) => {
      answered = true;
      const sentWhenAnswered = sent;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sentWhenAnswered, body }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pump = () => {
      while (!answered && sent < data.length) {
        const piece = data.subarray(sent, sent + 64 * 1024);
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', () => setTimeout(pump, 5));
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}
