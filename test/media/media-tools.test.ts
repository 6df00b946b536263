import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaAbortedError } from '../../src/media/ffmpeg.ts';
import { createMediaTools, type MediaInput } from '../../src/media/media-tools.ts';
import { chooseMode, normalizeJob } from '../../src/processing/steps/normalize.ts';
import { bins, makeGood, makeLong } from './fixtures.ts';

const run = promisify(execFile);
const tools = createMediaTools({
  media: { ffmpegPath: undefined, ffprobePath: undefined },
  threads: 1,
  limits: { maxDurationSeconds: 3600, maxDimension: 4096 },
});
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-media-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function input(file: string): Promise<MediaInput> {
  return {
    location: file,
    sizeBytes: (await stat(file)).size,
    readBytes: async (start, end) => {
      const h = await open(file);
      try {
        const b = Buffer.alloc(end - start + 1);
        const { bytesRead } = await h.read(b, 0, b.length, start);
        return b.subarray(0, bytesRead);
      } finally {
        await h.close();
      }
    },
  };
}

/** MD5 of the video stream's packets, without decoding. */
async function videoPacketsMd5(file: string): Promise<string> {
  const { stdout } = await run(bins.ffmpeg, [
    '-v',
    'error',
    '-i',
    file,
    '-map',
    '0:v:0',
    '-c',
    'copy',
    '-f',
    'md5',
    '-',
  ]);
  return stdout.trim();
}

describe('media tools', () => {
  it('remuxes an H.264/AAC MOV with the video stream bit-identical', { timeout: 60_000 }, async () => {
    const src = await makeGood('h264_aac_mov', dir);
    const info = await tools.probe(await input(src), AbortSignal.timeout(30_000));
    expect(chooseMode(info)).toBe('remux');
    const out = path.join(dir, 'remuxed.mp4');
    await tools.ffmpeg(normalizeJob(info, 'remux', { location: src, demuxer: info.demuxer! }, out, 1), {
      signal: AbortSignal.timeout(30_000),
    });
    expect(await videoPacketsMd5(out)).toBe(await videoPacketsMd5(src));
  });

  it('copies the video and converts only the audio when only the audio does not fit', {
    timeout: 60_000,
  }, async () => {
    const src = await makeGood('mkv_two_audio', dir);
    const info = await tools.probe(await input(src), AbortSignal.timeout(30_000));
    expect(info.audioStreamCount).toBe(2);
    expect(chooseMode(info)).toBe('audio');
    const out = path.join(dir, 'audio-only-converted.mp4');
    await tools.ffmpeg(normalizeJob(info, 'audio', { location: src, demuxer: info.demuxer! }, out, 1), {
      signal: AbortSignal.timeout(30_000),
    });
    expect(await videoPacketsMd5(out)).toBe(await videoPacketsMd5(src));
  });

  it('reports the displayed size of a rotated phone clip', { timeout: 60_000 }, async () => {
    const info = await tools.probe(await input(await makeGood('rotated', dir)), AbortSignal.timeout(30_000));
    expect([info.width, info.height, info.codedWidth, info.codedHeight]).toEqual([240, 320, 320, 240]);
    expect([90, 270]).toContain(info.rotation);
    expect(chooseMode(info)).toBe('transcode');
  });

  it('reports progress, and an abort kills ffmpeg before the promise settles', {
    timeout: 60_000,
  }, async () => {
    const src = await makeLong(dir, 30);
    const info = await tools.probe(await input(src), AbortSignal.timeout(30_000));
    const controller = new AbortController();
    const seen: number[] = [];
    const out = path.join(dir, 'aborted.mp4');
    const job = tools.ffmpeg(
      normalizeJob(info, 'transcode', { location: src, demuxer: info.demuxer! }, out, 1),
      {
        signal: controller.signal,
        durationSeconds: info.durationSeconds,
        onProgress: (f) => {
          seen.push(f);
          if (f > 0.05) controller.abort(new Error('shutdown'));
        },
      },
    );
    await expect(job).rejects.toBeInstanceOf(MediaAbortedError);
    expect(seen.some((f) => f > 0 && f < 1)).toBe(true);
    const { stdout } = await run('ps', ['-eo', 'args']);
    expect(stdout.split('\n').filter((l) => l.includes(out))).toEqual([]);
  });

  it("reports the time a transcode has left, from ffmpeg's speed", { timeout: 60_000 }, async () => {
    const src = await makeLong(dir, 6);
    const info = await tools.probe(await input(src), AbortSignal.timeout(30_000));
    const seen: Array<{ f: number; eta: number | undefined }> = [];
    await tools.ffmpeg(
      normalizeJob(
        info,
        'transcode',
        { location: src, demuxer: info.demuxer! },
        path.join(dir, 'eta.mp4'),
        1,
      ),
      {
        signal: AbortSignal.timeout(50_000),
        durationSeconds: info.durationSeconds,
        onProgress: (f, eta) => seen.push({ f, eta }),
      },
    );
    const etas = seen.filter((s) => s.eta !== undefined);
    // ffmpeg's last report (progress=end) has a speed, so at least that one carries an ETA.
    expect(etas.length).toBeGreaterThan(0);
    for (const s of etas) expect(s.eta).toBeGreaterThanOrEqual(0);
    // The seconds left of the media at ffmpeg's speed: none once all of it is written.
    const last = seen.at(-1)!;
    expect(last.f).toBeGreaterThan(0.9);
    expect(last.eta).toBeLessThan(1);
  });
});
