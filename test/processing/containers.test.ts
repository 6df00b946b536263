import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_VIDEO_EXTENSIONS } from '../../src/config.ts';
import type { MediaInfo } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { CONTAINER_FIXTURES, makeContainer } from '../media/containers.ts';
import { bins, ffprobe } from '../media/fixtures.ts';
import { createSession, startTus } from '../uploads/helpers.ts';
import { analysisRow, waitForStatus } from './helpers.ts';

/**
 * Every extension Clipdock accepts by default, as a real file of that container with the codecs
 * such files carry, uploaded through tus to a real node, becomes `ready` with a browser-playable
 * H.264/AAC MP4. An extension added to the defaults without a fixture here fails this test.
 */
let server: TestServer;
let dir: string;
/** Extension → video id, for the fixtures that were made and uploaded. */
const uploaded = new Map<string, { videoId: string; file: string }>();

beforeAll(async () => {
  server = await startTestServer({ STARTING_CREDITS: '1000', FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-containers-'));
  const exts = DEFAULT_VIDEO_EXTENSIONS.filter((ext) => CONTAINER_FIXTURES[ext]);
  const files = new Map<string, string>();
  // Two at a time: the machine has two cores.
  const queue = [...exts];
  await Promise.all(
    [0, 1].map(async () => {
      for (let ext = queue.shift(); ext; ext = queue.shift()) files.set(ext, await makeContainer(ext, dir));
    }),
  );
  const user = await signUp(server.url);
  const bodies = new Map<string, Buffer>();
  for (const ext of exts) bodies.set(ext, await readFile(files.get(ext)!));
  // One session for all, as a person dropping a folder of old clips would.
  const session = await createSession(
    user.api,
    exts.map((ext) => ({ name: path.basename(files.get(ext)!), size: bodies.get(ext)!.length })),
  );
  // Three uploads at a time, as the web app sends them (one user may run 8 at once).
  const pending = exts.map((ext, i) => ({ ext, file: session.files[i]! }));
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let next = pending.shift(); next; next = pending.shift()) {
        await startTus(bodies.get(next.ext)!, { token: user.token, file: next.file }).done;
        uploaded.set(next.ext, { videoId: next.file.videoId, file: files.get(next.ext)! });
      }
    }),
  );
}, 180_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Stream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  sample_aspect_ratio?: string;
  field_order?: string;
}
const probeOf = async (file: string) =>
  (await ffprobe(file)) as { format: { format_name: string; duration: string }; streams: Stream[] };

/** idet's verdict over all frames: how many look woven from two fields. */
async function interlacedFrames(file: string): Promise<{ interlaced: number; progressive: number }> {
  const { stderr } = await promisify(execFile)(bins.ffmpeg, [
    '-hide_banner',
    '-i',
    file,
    '-map',
    '0:v:0',
    '-vf',
    'idet',
    '-f',
    'null',
    '-',
  ]);
  const m = /Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)/.exec(stderr);
  if (!m) throw new Error(`idet said nothing:\n${stderr}`);
  return { interlaced: Number(m[1]) + Number(m[2]), progressive: Number(m[3]) };
}

/** A full decode of the output: any error (a broken frame, a bad timestamp) fails it. */
async function decodesCleanly(file: string): Promise<string> {
  const { stderr } = await promisify(execFile)(bins.ffmpeg, [
    '-hide_banner',
    '-v',
    'error',
    '-xerror',
    '-i',
    file,
    '-f',
    'null',
    '-',
  ]);
  return stderr;
}

describe('every accepted extension converts to a browser-playable MP4', () => {
  it('has a fixture for exactly the default extensions', () => {
    expect(Object.keys(CONTAINER_FIXTURES).sort()).toEqual([...DEFAULT_VIDEO_EXTENSIONS].sort());
  });

  for (const ext of DEFAULT_VIDEO_EXTENSIONS) {
    const fixture = CONTAINER_FIXTURES[ext];
    it(`.${ext}: ${fixture?.what ?? 'NO FIXTURE'} → ready, H.264/AAC MP4`, { timeout: 150_000 }, async () => {
      expect(fixture, `no real .${ext} file in test/media/containers.ts`).toBeDefined();
      const { videoId, file } = uploaded.get(ext)!;

      // The fixture is what it says it is.
      const src = await probeOf(file);
      const srcVideo = src.streams.find((s) => s.codec_type === 'video')!;
      expect({
        format: src.format.format_name,
        video: srcVideo.codec_name,
        audio: src.streams.find((s) => s.codec_type === 'audio')?.codec_name,
      }).toEqual({ format: fixture!.probe.format, video: fixture!.probe.video, audio: fixture!.probe.audio });
      if (fixture!.probe.interlaced) {
        expect(srcVideo.field_order).toBe('tt');
        const idet = await interlacedFrames(file);
        expect(idet.interlaced).toBeGreaterThan(idet.progressive);
      }

      const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed'], 140_000);
      const a = await analysisRow(server.node.ctx.db, videoId);
      expect(v.status, `${a?.error_code}: ${a?.error_message}`).toBe('ready');

      const out = path.join(server.dataDir, 'storage', 'videos', videoId, 'video.mp4');
      const probe = await probeOf(out);
      expect(probe.format.format_name).toBe('mov,mp4,m4a,3gp,3g2,mj2');
      const video = probe.streams.filter((s) => s.codec_type === 'video');
      const audio = probe.streams.filter((s) => s.codec_type === 'audio');
      expect(video).toHaveLength(1);
      expect(video[0]).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p' });
      expect(audio.map((s) => s.codec_name)).toEqual(['aac']);
      // Progressive frames (phones' hardware decoders refuse interlaced H.264), and no combing.
      expect(video[0]!.field_order ?? 'progressive').toBe('progressive');
      if (fixture!.probe.interlaced) {
        const idet = await interlacedFrames(out);
        // Untreated, every frame is combed; deinterlaced, idet still mistakes a few of x264's
        // compressed frames for fields (none in a lossless encode of the same frames).
        expect(idet.interlaced).toBeLessThan(idet.progressive / 3);
      }
      // Square pixels at the size a player shows the source (anamorphic sources widen).
      expect(video[0]!.sample_aspect_ratio ?? '1:1').toBe('1:1');
      expect([video[0]!.width, video[0]!.height]).toEqual(fixture!.display);
      const meta = a!.metadata as unknown as MediaInfo;
      expect([meta.width, meta.height], 'probe reports the displayed size').toEqual(fixture!.display);
      // Same length as the source, however its timestamps started (TS/PS start near 1.4 s).
      const srcDuration = Number(src.format.duration);
      expect(Math.abs(Number(probe.format.duration) - srcDuration), `source ${srcDuration} s`).toBeLessThan(
        0.15,
      );
      expect(await decodesCleanly(out)).toBe('');
    });
  }
});
