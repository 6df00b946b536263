import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { connectLive, type Msg } from '../live/helpers.ts';
import { bins, makeGood } from '../media/fixtures.ts';
import { credits, reservations, uploadedVideo, videoRow, waitForAnalysis, waitForStatus } from './helpers.ts';

/**
 * Ready means playable (issue 10): the video is `ready` and charged once its MP4 and poster are
 * stored; the analysis follows as enrichment with its own live state. The transcription provider
 * is a fake AssemblyAI the test controls: it holds the transcript (so enrichment is provably
 * still running while the test looks at the ready video), or fails (so enrichment fails).
 */
type Mode = 'hold' | 'complete' | 'fail';
function fakeProvider() {
  const state: { mode: Mode } = { mode: 'hold' };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (state.mode === 'fail') return json(503, { error: 'service unavailable' });
      if (req.method === 'POST' && req.url === '/v2/upload') return json(200, { upload_url: 'https://x/u' });
      if (req.method === 'POST' && req.url === '/v2/transcript')
        return json(200, { id: 'tr_1', status: 'queued' });
      if (req.method === 'GET' && req.url === '/v2/transcript/tr_1') {
        if (state.mode === 'hold') return json(200, { id: 'tr_1', status: 'processing' });
        return json(200, {
          id: 'tr_1',
          status: 'completed',
          text: 'hello there',
          language_code: 'en',
          words: [],
        });
      }
      json(404, { error: 'not found' });
    });
  });
  return { server, state };
}

let server: TestServer;
let dir: string;
let clip: string;
let fake: ReturnType<typeof fakeProvider>;
beforeAll(async () => {
  fake = fakeProvider();
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
  const port = (fake.server.address() as AddressInfo).port;
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-enrich-'));
  [server, clip] = await Promise.all([
    startTestServer({
      STARTING_CREDITS: '100',
      CREDITS_PER_VIDEO: '10',
      FFMPEG_THREADS: '1',
      PROCESSING_MAX_ATTEMPTS: '2',
      ASSEMBLYAI_API_KEY: 'test-key',
      ASSEMBLYAI_BASE_URL: `http://127.0.0.1:${port}`,
    }),
    makeGood('h264_aac_mov', dir),
  ]);
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await new Promise((r) => (fake ? fake.server.close(r) : r(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const db = () => server.node.ctx.db;
const ofVideo = (id: string) => (m: Msg) => m.type === 'video.status' && m.videoId === id;
type Analysis = { status: string; step: string | null; progress: number; error: { code: string } | null };
const analysisOf = (m: Msg) => m.analysis as Analysis | null | undefined;

describe('ready means playable; analysis follows as enrichment', () => {
  it('a remuxable video is ready with a playable MP4 before its analysis finishes; enrichment progress arrives over the socket', {
    timeout: 120_000,
  }, async () => {
    fake.state.mode = 'hold';
    const user = await signUp(server.url);
    const live = await connectLive(server.url, user.token);
    try {
      await live.waitFor((m) => m.type === 'synced');
      const videoId = await uploadedVideo(server, user.user.id, clip);
      const mine = ofVideo(videoId);

      // The first `ready` says the analysis has started, not finished.
      const ready = await live.waitFor((m) => mine(m) && m.status === 'ready', { timeoutMs: 60_000 });
      expect(ready).toMatchObject({ progress: 100, step: null, error: null });
      expect(analysisOf(ready)).toMatchObject({ status: 'running' });
      // Enrichment progress, pushed while the video stays ready.
      const analyzing = await live.waitFor(
        (m) => mine(m) && m.status === 'ready' && analysisOf(m)?.step === 'analyze',
        { timeoutMs: 60_000 },
      );
      expect(analysisOf(analyzing)!.progress).toBeLessThan(100);
      // Held at the transcript: the analysis is provably unfinished now.
      await live.waitFor((m) => mine(m) && analysisOf(m)?.step === 'transcribe', { timeoutMs: 60_000 });
      const held = await videoRow(db(), videoId);
      expect(held.status).toBe('ready');
      expect(await reservations(db(), videoId)).toEqual([{ state: 'captured', amount: 10 }]);

      const detail = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
        status: string;
        analysis: Analysis & { conversion: string; scenes: unknown[]; storyboard: unknown };
        outputs: { video: string; poster: string };
      };
      expect(detail.status).toBe('ready');
      expect(detail.analysis).toMatchObject({ status: 'running', step: 'transcribe', conversion: 'remux' });
      // The MP4 plays: fetched by its signed URL, ffprobe reads H.264 + AAC of the clip's length.
      const mp4 = Buffer.from(await (await fetch(`${server.url}${detail.outputs.video}`)).arrayBuffer());
      const file = path.join(dir, `${videoId}.mp4`);
      await writeFile(file, mp4);
      const { stdout } = await promisify(execFile)(bins.ffprobe, [
        '-v',
        'error',
        '-show_entries',
        'stream=codec_name:format=duration',
        '-of',
        'json',
        file,
      ]);
      const probed = JSON.parse(stdout) as {
        streams: { codec_name: string }[];
        format: { duration: string };
      };
      expect(probed.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
      expect(Number(probed.format.duration)).toBeGreaterThan(1);
      expect((await fetch(`${server.url}${detail.outputs.poster}`)).status).toBe(200);

      // The provider answers: enrichment finishes, pushed as analysis ready.
      fake.state.mode = 'complete';
      const done = await live.waitFor((m) => mine(m) && analysisOf(m)?.status === 'ready', {
        timeoutMs: 60_000,
      });
      expect(done).toMatchObject({ status: 'ready', progress: 100 });
      expect(analysisOf(done)).toMatchObject({ progress: 100, step: null, error: null });
      const after = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
        analysis: { status: string; storyboard: unknown; transcript: { status: string } };
        outputs: { storyboard: string };
      };
      expect(after.analysis).toMatchObject({ status: 'ready', transcript: { status: 'completed' } });
      expect(after.analysis.storyboard).toMatchObject({ columns: 10 });
      expect(after.outputs.storyboard).toEqual(expect.any(String));
      // `ready` came once: enrichment's events never moved the video's own status.
      const statuses = live.messages.filter(mine).map((m) => m.status);
      expect(statuses.slice(statuses.indexOf('ready')).every((s) => s === 'ready')).toBe(true);
    } finally {
      live.close();
    }
  });

  it('an enrichment failure leaves the video ready and charged once; reprocess runs it again', {
    timeout: 150_000,
  }, async () => {
    fake.state.mode = 'fail';
    const user = await signUp(server.url);
    const before = await credits(db(), user.user.id);
    const live = await connectLive(server.url, user.token);
    try {
      await live.waitFor((m) => m.type === 'synced');
      const videoId = await uploadedVideo(server, user.user.id, clip);
      expect((await waitForStatus(db(), videoId, ['ready', 'failed'])).status).toBe('ready');
      // The provider is down on every attempt: retried, then enrichment gives up.
      const a = await waitForAnalysis(db(), videoId, ['ready', 'failed'], 120_000);
      expect(a.enrichment_status).toBe('failed');
      expect(a.enrichment_error_code).toBe('PROCESSING_FAILED');
      const failed = await live.waitFor((m) => ofVideo(videoId)(m) && analysisOf(m)?.status === 'failed');
      expect(failed).toMatchObject({ status: 'ready', error: null });
      expect(analysisOf(failed)!.error).toMatchObject({ code: 'PROCESSING_FAILED' });

      const v = await videoRow(db(), videoId);
      expect(v).toMatchObject({ status: 'ready', error_code: null });
      expect(await reservations(db(), videoId)).toEqual([{ state: 'captured', amount: 10 }]);
      expect(await credits(db(), user.user.id)).toEqual({ balance: before.balance - 10, reserved: 0 });
      const listed = (await (await user.api(`/api/videos/status?videoIds=${videoId}`)).json()) as {
        videos: Array<{ status: string; error: unknown; analysis: Analysis }>;
      };
      expect(listed.videos[0]).toMatchObject({
        status: 'ready',
        error: null,
        analysis: { status: 'failed' },
      });

      // The provider is back: reprocess runs the enrichment again, free of charge.
      fake.state.mode = 'complete';
      const rep = await user.api(`/api/videos/${videoId}/reprocess`, {
        method: 'POST',
        body: JSON.stringify({ steps: ['transcribe'] }),
      });
      expect(rep.status).toBe(202);
      const again = await waitForAnalysis(db(), videoId, ['ready', 'failed']);
      expect(again.enrichment_status).toBe('ready');
      expect((again.results as { transcript?: { status: string } }).transcript?.status).toBe('completed');
      expect((await videoRow(db(), videoId)).status).toBe('ready');
      expect(await reservations(db(), videoId)).toEqual([{ state: 'captured', amount: 10 }]);
      expect(await credits(db(), user.user.id)).toEqual({ balance: before.balance - 10, reserved: 0 });
    } finally {
      live.close();
    }
  });
});
