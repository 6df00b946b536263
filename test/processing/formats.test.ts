import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaInfo } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { ffprobe, GOOD_CLIPS, makeGood } from '../media/fixtures.ts';
import { analysisRow, credits, reservations, uploadedVideo, waitForStatus } from './helpers.ts';

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ STARTING_CREDITS: '1000', CREDITS_PER_VIDEO: '10', FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-formats-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** moov must come before mdat (+faststart) so playback starts before the whole file is fetched. */
async function topLevelBoxes(file: string): Promise<string[]> {
  const { open } = await import('node:fs/promises');
  const h = await open(file);
  const out: string[] = [];
  try {
    const size = (await h.stat()).size;
    let off = 0;
    while (off + 8 <= size && out.length < 20) {
      const b = Buffer.alloc(16);
      await h.read(b, 0, 16, off);
      let len = b.readUInt32BE(0);
      if (len === 1) len = Number(b.readBigUInt64BE(8));
      out.push(b.toString('latin1', 4, 8));
      if (len < 8) break;
      off += len;
    }
  } finally {
    await h.close();
  }
  return out;
}

describe('every kind of input becomes a browser-playable MP4', () => {
  const expected: Record<
    string,
    { mode: string; width: number; height: number; audio: boolean; source?: [number, number] }
  > = {
    h264_aac_mov: { mode: 'remux', width: 320, height: 240, audio: true },
    hevc: { mode: 'transcode', width: 320, height: 240, audio: true },
    hevc_10bit: { mode: 'transcode', width: 320, height: 240, audio: true },
    prores: { mode: 'transcode', width: 320, height: 240, audio: true },
    vp9_opus: { mode: 'transcode', width: 320, height: 240, audio: true },
    mjpeg_avi: { mode: 'transcode', width: 320, height: 240, audio: true },
    mkv_two_audio: { mode: 'audio', width: 320, height: 240, audio: true },
    rotated: { mode: 'transcode', width: 240, height: 320, audio: true },
    odd_size: { mode: 'transcode', width: 320, height: 240, audio: true, source: [321, 241] },
    yuv444: { mode: 'transcode', width: 320, height: 240, audio: true },
    no_audio: { mode: 'remux', width: 320, height: 240, audio: false },
    vfr: { mode: 'remux', width: 320, height: 240, audio: true },
  };
  expect(Object.keys(expected).sort()).toEqual(Object.keys(GOOD_CLIPS).sort());

  for (const [kind, want] of Object.entries(expected)) {
    it(`${kind} → H.264${want.audio ? '/AAC' : ''} MP4 (${want.mode})`, { timeout: 120_000 }, async () => {
      const user = await signUp(server.url);
      const file = await makeGood(kind, await mkdtemp(path.join(dir, `${kind}-`)));
      const before = await credits(server.node.ctx.db, user.user.id);
      const videoId = await uploadedVideo(server, user.user.id, file);
      const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed']);
      const a = await analysisRow(server.node.ctx.db, videoId);
      expect(v.status, `${a?.error_code}: ${a?.error_message}`).toBe('ready');

      const out = path.join(server.dataDir, 'storage', 'videos', videoId, 'video.mp4');
      const probe = await ffprobe(out);
      const video = probe.streams.filter((s) => s.codec_type === 'video');
      const audio = probe.streams.filter((s) => s.codec_type === 'audio');
      expect(video).toHaveLength(1);
      expect(video[0]).toMatchObject({
        codec_name: 'h264',
        pix_fmt: 'yuv420p',
        width: want.width,
        height: want.height,
      });
      expect(audio.map((s) => s.codec_name)).toEqual(want.audio ? ['aac'] : []);
      const src = (await ffprobe(file)).format.duration;
      expect(Number(probe.format.duration)).toBeGreaterThan(Number(src) - 0.15);
      expect(Number(probe.format.duration)).toBeLessThan(Number(src) + 0.15);
      const boxes = await topLevelBoxes(out);
      expect(boxes.indexOf('moov')).toBeGreaterThanOrEqual(0);
      expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));

      const meta = a!.metadata as unknown as MediaInfo;
      // Displayed size of the original (rotation applied); the output only rounds to even sides.
      expect([meta.width, meta.height]).toEqual(want.source ?? [want.width, want.height]);
      expect((a!.results as { normalize: { mode: string } }).normalize.mode).toBe(want.mode);
      // The original is kept as uploaded.
      expect(await server.node.ctx.store.head(`videos/${videoId}/original`)).toBeDefined();
      // Exactly one capture: the balance went down by the reservation and nothing is left reserved.
      expect(await reservations(server.node.ctx.db, videoId)).toEqual([{ state: 'captured', amount: 10 }]);
      const after = await credits(server.node.ctx.db, user.user.id);
      expect(after).toEqual({ balance: before.balance - 10, reserved: before.reserved });
    });
  }
});
