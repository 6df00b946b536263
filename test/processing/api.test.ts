import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue, processJobKey } from '../../src/jobs/queue.ts';
import type { Checkpoint } from '../../src/processing/types.ts';
import { keys } from '../../src/storage/object-store.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood, makeSilence } from '../media/fixtures.ts';
import {
  analysisRow,
  credits,
  reservations,
  uploadedVideo,
  videoRow,
  waitForAnalysis,
  waitForStatus,
} from './helpers.ts';

/** Answers like AssemblyAI's documented v2 API: upload, create, then poll until completed. */
function fakeAssemblyAi() {
  const seen: { uploads: number; bytes: number; auth: string[]; polls: number; created: unknown[] } = {
    uploads: 0,
    bytes: 0,
    auth: [],
    polls: 0,
    created: [],
  };
  const server = createServer((req, res) => {
    seen.auth.push(String(req.headers.authorization));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (req.headers.authorization !== 'test-key')
        return json(401, { error: 'Authentication error, API token missing/invalid' });
      if (req.method === 'POST' && req.url === '/v2/upload') {
        seen.uploads++;
        seen.bytes += body.length;
        return json(200, { upload_url: 'https://cdn.assemblyai.example/upload/abc' });
      }
      if (req.method === 'POST' && req.url === '/v2/transcript') {
        seen.created.push(JSON.parse(body.toString()));
        return json(200, { id: 'tr_123', status: 'queued' });
      }
      if (req.method === 'GET' && req.url === '/v2/transcript/tr_123') {
        seen.polls++;
        if (seen.polls < 2) return json(200, { id: 'tr_123', status: 'processing' });
        return json(200, {
          id: 'tr_123',
          status: 'completed',
          text: 'Hello from the fake transcription service.',
          language_code: 'en',
          words: [
            { text: 'Hello', start: 100, end: 400 },
            { text: 'from', start: 400, end: 600 },
          ],
        });
      }
      json(404, { error: 'not found' });
    });
  });
  return { server, seen };
}

let server: TestServer;
let dir: string;
let fake: ReturnType<typeof fakeAssemblyAi>;
beforeAll(async () => {
  fake = fakeAssemblyAi();
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
  const port = (fake.server.address() as AddressInfo).port;
  server = await startTestServer({
    STARTING_CREDITS: '30',
    CREDITS_PER_VIDEO: '10',
    FFMPEG_THREADS: '1',
    PROCESSING_MAX_ATTEMPTS: '2',
    ASSEMBLYAI_API_KEY: 'test-key',
    ASSEMBLYAI_BASE_URL: `http://127.0.0.1:${port}`,
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-api-'));
});
afterAll(async () => {
  await server?.stop();
  await new Promise((r) => (fake ? fake.server.close(r) : r(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const db = () => server.node.ctx.db;

/** A video that fails on our side: its original vanishes from storage (retried, then given up). */
async function failOnStorage(userId: string, file: string, credits?: number): Promise<string> {
  const videoId = await uploadedVideo(server, userId, file, {
    enqueue: false,
    ...(credits ? { credits } : {}),
  });
  await server.node.ctx.store.delete(keys.original(videoId));
  await enqueue(db(), 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
  expect((await waitForStatus(db(), videoId, ['failed', 'ready'])).error_code).toBe('PROCESSING_FAILED');
  return videoId;
}

describe('processing API', () => {
  it('serves outputs to the owner with Range, transcribes through AssemblyAI, and re-analyses for free', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const other = await signUp(server.url);
    const file = await makeSilence(dir);
    const videoId = await uploadedVideo(server, user.user.id, file);
    expect((await waitForStatus(db(), videoId, ['ready', 'failed'])).status).toBe('ready');
    expect((await waitForAnalysis(db(), videoId)).enrichment_status).toBe('ready');

    // Transcript via the provider: audio uploaded, key sent as the authorization header only.
    const a = (await analysisRow(db(), videoId))!;
    expect((a.results as Record<string, unknown>).transcript).toMatchObject({
      status: 'completed',
      provider: 'assemblyai',
      providerId: 'tr_123',
      language: 'en',
      words: 2,
    });
    expect(fake.seen.uploads).toBe(1);
    expect(fake.seen.bytes).toBeGreaterThan(1000);
    expect(fake.seen.auth.every((h) => h === 'test-key')).toBe(true);
    expect(fake.seen.created[0]).toMatchObject({ audio_url: 'https://cdn.assemblyai.example/upload/abc' });

    const size = (await stat(path.join(server.dataDir, 'storage', keys.output(videoId, 'video.mp4')))).size;
    const ranged = await user.api(`/api/videos/${videoId}/outputs/video.mp4`, {
      headers: { range: 'bytes=100-199' },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${size}`);
    expect(ranged.headers.get('content-type')).toBe('video/mp4');
    expect((await ranged.arrayBuffer()).byteLength).toBe(100);
    // A media element cannot send headers: it loads the signed URL the API hands out; the
    // long-lived token in ?token= authorises nothing.
    const { outputs } = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
      outputs: { poster: string };
    };
    const bySignature = await fetch(`${server.url}${outputs.poster}`);
    expect(bySignature.status).toBe(200);
    expect(bySignature.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await bySignature.arrayBuffer());
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    const byToken = await fetch(`${server.url}/api/videos/${videoId}/outputs/poster.jpg?token=${user.token}`);
    expect(byToken.status).toBe(401);
    const sb = await user.api(`/api/videos/${videoId}/outputs/storyboard.json`);
    expect(await sb.json()).toMatchObject({ columns: 10, tileWidth: 160 });

    expect((await other.api(`/api/videos/${videoId}/outputs/video.mp4`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/videos/${videoId}/outputs/video.mp4`)).status).toBe(401);
    const unknown = await user.api(`/api/videos/${videoId}/outputs/original`);
    expect(unknown.status).toBe(404);

    // The detail route shows analysis and outputs per the contract.
    const detail = await user.api(`/api/videos/${videoId}`);
    expect(detail.status).toBe(200);
    const video = (await detail.json()) as {
      analysis: Record<string, unknown>;
      outputs: Record<string, string>;
    };
    expect(video.analysis).toMatchObject({
      width: 320,
      height: 240,
      videoCodec: 'h264',
      audioCodec: 'aac',
      silences: [expect.objectContaining({ start: expect.any(Number), end: expect.any(Number) })],
      transcript: { status: 'completed' },
    });
    const signed = (name: string) => new RegExp(`^/api/videos/${videoId}/outputs/${name}\\?sig=[^&]+$`);
    expect(video.outputs.video).toMatch(signed('video\\.mp4'));
    expect(video.outputs.poster).toMatch(signed('poster\\.jpg'));
    expect(video.outputs.storyboard).toMatch(signed('storyboard\\.jpg'));

    const balance = await credits(db(), user.user.id);
    const rep = await user.api(`/api/videos/${videoId}/reprocess`, { method: 'POST', body: '{}' });
    expect(rep.status).toBe(202);
    expect(await rep.json()).toMatchObject({
      video: { status: 'ready', steps: ['analyze', 'transcribe'] },
    });
    const after = await waitForAnalysis(db(), videoId);
    expect(after.enrichment_status).toBe('ready');
    expect((await videoRow(db(), videoId)).status).toBe('ready');
    expect(after.completed_at).not.toBeNull();
    expect((after.checkpoint as unknown as Checkpoint).runs).toEqual({
      probe: 1,
      normalize: 1,
      poster: 1,
      analyze: 2,
      transcribe: 2,
    });
    expect(await credits(db(), user.user.id)).toEqual(balance);
    expect(await reservations(db(), videoId)).toEqual([{ state: 'captured', amount: 10 }]);

    const notFailed = await user.api(`/api/videos/${videoId}/retry`, { method: 'POST' });
    expect(notFailed.status).toBe(409);
    expect(((await notFailed.json()) as { error: { code: string } }).error.code).toBe('VIDEO_NOT_RETRYABLE');
  });

  it('retries a failed video under a new reservation, and refuses when credits are short', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const good = await makeGood('no_audio', dir);
    const videoId = await failOnStorage(user.user.id, good);
    expect((await user.api(`/api/videos/${videoId}/reprocess`, { method: 'POST', body: '{}' })).status).toBe(
      409,
    );
    const listed = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
      error: { code: string; retryable: boolean };
    };
    expect(listed.error).toMatchObject({ code: 'PROCESSING_FAILED', retryable: true });

    // Storage serves the original again: the retry converts it.
    await server.node.ctx.store.putFile(keys.original(videoId), good);
    const res = await user.api(`/api/videos/${videoId}/retry`, { method: 'POST' });
    expect(res.status).toBe(202);
    const v = await waitForStatus(db(), videoId, ['ready', 'failed']);
    expect(v.status).toBe('ready');
    expect(v.error_code).toBeNull();
    expect(await reservations(db(), videoId)).toEqual([
      { state: 'released', amount: 10 },
      { state: 'captured', amount: 10 },
    ]);
    expect(await credits(db(), user.user.id)).toEqual({ balance: 20, reserved: 0 });

    // Two more videos use up the balance; a retry then needs credits it does not have.
    const poor = await signUp(server.url);
    const first = await failOnStorage(poor.user.id, good, 30);
    await server.node.ctx.store.putFile(keys.original(first), good);
    await uploadedVideo(server, poor.user.id, good, { credits: 30, enqueue: false });
    const short = await poor.api(`/api/videos/${first}/retry`, { method: 'POST' });
    expect(short.status).toBe(402);
    expect(((await short.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_CREDITS');
    expect((await user.api(`/api/videos/${first}/retry`, { method: 'POST' })).status).toBe(404);
  });

  it('retries transient failures with backoff, then fails with a fixed text and releases credits', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const file = await makeGood('no_audio', dir);
    const videoId = await uploadedVideo(server, user.user.id, file, { enqueue: false });
    // The original vanishes from storage: a storage error, which a retry might cure.
    await server.node.ctx.store.delete(keys.original(videoId));
    await enqueue(db(), 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
    const v = await waitForStatus(db(), videoId, ['failed', 'ready']);
    expect(v.status).toBe('failed');
    expect(v.error_code).toBe('PROCESSING_FAILED');
    expect(v.error_message).toMatch(/2 times/);
    // The storage error (which names the object's key) is for the log only.
    expect(v.error_message).not.toContain(keys.original(videoId));
    expect(v.error_message).not.toMatch(/stored object|videos\//);
    expect(v.retry_count).toBe(1);
    const a = (await analysisRow(db(), videoId))!;
    expect(a.attempts).toBe(2);
    expect(await reservations(db(), videoId)).toEqual([{ state: 'released', amount: 10 }]);
  });
  it('a failed re-analysis leaves the video ready and charged once, with the error on its analysis; reprocess re-runs it', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeGood('no_audio', dir));
    expect((await waitForStatus(db(), videoId, ['ready', 'failed'])).status).toBe('ready');
    expect((await waitForAnalysis(db(), videoId)).enrichment_status).toBe('ready');
    // The converted video vanishes: re-analysis cannot read it (a storage error, retried, then given up).
    const mp4 = path.join(server.dataDir, 'storage', keys.output(videoId, 'video.mp4'));
    const kept = path.join(dir, `${videoId}.mp4`);
    await copyFile(mp4, kept);
    await server.node.ctx.store.delete(keys.output(videoId, 'video.mp4'));
    const rep = await user.api(`/api/videos/${videoId}/reprocess`, {
      method: 'POST',
      body: JSON.stringify({ steps: ['analyze'] }),
    });
    expect(rep.status).toBe(202);
    // Asked again while it runs: refused with a clear code.
    const again = await user.api(`/api/videos/${videoId}/reprocess`, { method: 'POST', body: '{}' });
    if (again.status !== 202) {
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe('ANALYSIS_RUNNING');
    }
    const a = await waitForAnalysis(db(), videoId, ['failed']);
    expect(a.enrichment_error_code).toBe('PROCESSING_FAILED');
    const v = await videoRow(db(), videoId);
    expect(v.status).toBe('ready');
    expect(v.error_code).toBeNull();
    expect((a.checkpoint as unknown as Checkpoint).reprocess).toBeUndefined();
    expect(await reservations(db(), videoId)).toEqual([{ state: 'captured', amount: 10 }]);
    const detail = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
      status: string;
      error: unknown;
      analysis: { status: string; error: { code: string } | null };
    };
    expect(detail).toMatchObject({ status: 'ready', error: null });
    expect(detail.analysis).toMatchObject({ status: 'failed', error: { code: 'PROCESSING_FAILED' } });

    // The MP4 is back: a reprocess runs the enrichment again, still without a charge.
    await server.node.ctx.store.putFile(keys.output(videoId, 'video.mp4'), kept);
    const rerun = await user.api(`/api/videos/${videoId}/reprocess`, {
      method: 'POST',
      body: JSON.stringify({ steps: ['analyze'] }),
    });
    expect(rerun.status).toBe(202);
    expect((await waitForAnalysis(db(), videoId, ['ready'])).enrichment_error_code).toBeNull();
    expect((await videoRow(db(), videoId)).status).toBe('ready');
    expect(await reservations(db(), videoId)).toEqual([{ state: 'captured', amount: 10 }]);
  });
});
