import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capFor, inputArgs } from '../../src/media/input-args.ts';
import { createMediaTools, jobArgs, type MediaInput } from '../../src/media/media-tools.ts';
import { chooseMode, normalizeJob } from '../../src/processing/steps/normalize.ts';
import { CASES } from './container-samples.ts';
import { ffmpeg, ffprobe } from './fixtures.ts';

/**
 * Every ffmpeg/ffprobe run on user data names its demuxer and protocols, and is capped at what
 * the probe found: checked on the command lines the tools really ran, and on a file that lies.
 */
const commands: Array<{ bin: string; args: string[] }> = [];
const tools = createMediaTools({
  media: { ffmpegPath: undefined, ffprobePath: undefined },
  threads: 1,
  limits: { maxDurationSeconds: 3600, maxDimension: 4096 },
  onCommand: (c) => commands.push(c),
});
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-forced-'));
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

/** 10 s of video whose movie header says 1 s: ffprobe reports 1 s, the track holds 250 frames. */
async function makeLiar(): Promise<string> {
  const real = path.join(dir, 'ten-seconds.mp4');
  await ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=160x120:rate=25:duration=10',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    real,
  ]);
  const b = await readFile(real);
  const mvhd = b.indexOf('mvhd');
  const timescale = b.readUInt32BE(mvhd + 16);
  b.writeUInt32BE(timescale, mvhd + 20);
  const liar = path.join(dir, 'liar.mp4');
  await writeFile(liar, b);
  return liar;
}

describe('forced input', () => {
  it('runs ffprobe and ffmpeg only with -protocol_whitelist and -f before the one -i, and caps a lying file', {
    timeout: 60_000,
  }, async () => {
    const liar = await makeLiar();
    const info = await tools.probe(await input(liar), AbortSignal.timeout(30_000));
    expect(info.durationSeconds).toBe(1);
    expect(info.demuxer).toBe('mov');
    const out = path.join(dir, 'normalized.mp4');
    await tools.ffmpeg(normalizeJob(info, 'transcode', { location: liar, demuxer: 'mov' }, out, 1), {
      signal: AbortSignal.timeout(30_000),
    });
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const { args } of commands) {
      const i = args.indexOf('-i');
      expect(args.lastIndexOf('-i')).toBe(i);
      expect(args.slice(i - 4, i + 2)).toEqual([
        '-protocol_whitelist',
        'file',
        '-f',
        'mov',
        '-i',
        `file:${liar}`,
      ]);
    }
    // Without the cap all 250 frames (10 s) would be converted.
    const cap = capFor(info);
    const probed = (await ffprobe(out)) as { format: { duration: string } };
    expect(Number(probed.format.duration)).toBeLessThanOrEqual(cap.seconds + 0.1);
    expect(Number(probed.format.duration)).toBeLessThan(5);
  });

  for (const c of CASES) {
    it(`probes and converts ${c.file} with ${c.demuxer} forced, every frame kept under the cap`, {
      timeout: 60_000,
    }, async () => {
      const file = path.join(dir, c.file);
      await ffmpeg([...c.args, file]);
      const info = await tools.probe(await input(file), AbortSignal.timeout(30_000));
      expect(info.demuxer).toBe(c.demuxer);
      expect(info.durationSeconds).toBeGreaterThan(2.5);
      const out = path.join(dir, `${c.file}.mp4`);
      const job = normalizeJob(info, chooseMode(info), { location: file, demuxer: info.demuxer! }, out, 1);
      const run = await tools.ffmpeg(job, { signal: AbortSignal.timeout(30_000) });
      // 3 s at 25 fps: the cap must not cut a truthful file short.
      expect(run.frames).toBeGreaterThanOrEqual(74);
      expect(run.frames).toBeLessThanOrEqual(job.cap.frames);
    });
  }

  it('opens a signed URL with the http(s) stack only, and refuses any other protocol', () => {
    expect(inputArgs({ location: 'https://bucket.example/k?X-Amz-Signature=1', demuxer: 'mpegts' })).toEqual([
      '-protocol_whitelist',
      'https,tls,tcp',
      '-reconnect',
      '0',
      '-f',
      'mpegts',
      '-i',
      'https://bucket.example/k?X-Amz-Signature=1',
    ]);
    expect(inputArgs({ location: 'http://127.0.0.1:9000/b/k', demuxer: 'mov' }).slice(0, 2)).toEqual([
      '-protocol_whitelist',
      'http,tcp',
    ]);
    for (const location of [
      'concat:a.mp4|b.mp4',
      'subfile,,start,0,end,10,,:x',
      'data:text/plain,x',
      'crypto:x',
    ]) {
      expect(() => inputArgs({ location, demuxer: 'mov' })).toThrow(/not a local path/);
    }
  });

  it('refuses a job whose arguments open an input or pick a demuxer or protocol themselves', () => {
    const base = { input: { location: '/x.mp4', demuxer: 'mov' as const }, cap: { seconds: 3, frames: 90 } };
    expect(() => jobArgs({ ...base, args: ['-i', '/etc/passwd', '-f', 'null', '-'] })).toThrow(/-i/);
    expect(() => jobArgs({ ...base, inputOptions: ['-f', 'hls'], args: ['-f', 'null', '-'] })).toThrow(/-f/);
    expect(() =>
      jobArgs({ ...base, inputOptions: ['-protocol_whitelist', 'file,http'], args: [] }),
    ).toThrow();
    expect(jobArgs({ ...base, args: ['-f', 'null', '-'] })).toEqual([
      '-t',
      '3',
      '-protocol_whitelist',
      'file',
      '-f',
      'mov',
      '-i',
      'file:/x.mp4',
      '-f',
      'null',
      '-',
    ]);
  });
});
