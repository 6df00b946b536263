import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveBinaries } from '../../src/media/ffmpeg.ts';

/**
 * Test media, generated with ffmpeg's lavfi sources (nothing binary is committed). Clips are
 * short and small so the processing suite stays quick on two cores.
 */
const run = promisify(execFile);
export const bins = resolveBinaries({
  ffmpegPath: process.env.FFMPEG_PATH,
  ffprobePath: process.env.FFPROBE_PATH,
});

export async function ffmpeg(args: string[]): Promise<void> {
  await run(bins.ffmpeg, ['-hide_banner', '-v', 'error', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 });
}

export async function ffprobe(file: string): Promise<{
  format: { format_name: string; duration: string };
  streams: Array<{
    codec_type: string;
    codec_name: string;
    width?: number;
    height?: number;
    pix_fmt?: string;
  }>;
}> {
  const { stdout } = await run(bins.ffprobe, [
    '-v',
    'error',
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    file,
  ]);
  return JSON.parse(stdout);
}

const V = (size = '320x240', d = 2, rate = 25) => [
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=${size}:rate=${rate}:duration=${d}`,
];
const A = (d = 2, f = 440) => ['-f', 'lavfi', '-i', `sine=frequency=${f}:sample_rate=48000:duration=${d}`];
const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

/** The good inputs the pipeline must turn into H.264/AAC MP4, with their file names. */
export const GOOD_CLIPS: Record<
  string,
  { file: string; args: (out: string) => string[]; post?: (out: string) => Promise<void> }
> = {
  h264_aac_mov: { file: 'phone.mov', args: (o) => [...V(), ...A(), ...X264, '-c:a', 'aac', '-shortest', o] },
  hevc: {
    file: 'hevc.mp4',
    args: (o) => [
      ...V(),
      ...A(),
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'log-level=error',
      '-tag:v',
      'hvc1',
      '-c:a',
      'aac',
      '-shortest',
      o,
    ],
  },
  hevc_10bit: {
    file: 'hevc10.mp4',
    args: (o) => [
      ...V(),
      ...A(),
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p10le',
      '-x265-params',
      'log-level=error',
      '-tag:v',
      'hvc1',
      '-c:a',
      'aac',
      '-shortest',
      o,
    ],
  },
  prores: {
    file: 'prores.mov',
    args: (o) => [
      ...V(),
      ...A(),
      '-c:v',
      'prores_ks',
      '-profile:v',
      '0',
      '-c:a',
      'pcm_s16le',
      '-shortest',
      o,
    ],
  },
  vp9_opus: {
    file: 'clip.webm',
    args: (o) => [
      ...V(),
      ...A(),
      '-c:v',
      'libvpx-vp9',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-b:v',
      '300k',
      '-c:a',
      'libopus',
      '-shortest',
      o,
    ],
  },
  mjpeg_avi: {
    file: 'camera.avi',
    args: (o) => [...V(), ...A(), '-c:v', 'mjpeg', '-q:v', '5', '-c:a', 'pcm_s16le', '-shortest', o],
  },
  mkv_two_audio: {
    file: 'two-tracks.mkv',
    args: (o) => [
      ...V(),
      ...A(2, 440),
      ...A(2, 880),
      '-map',
      '0:v',
      '-map',
      '1:a',
      '-map',
      '2:a',
      ...X264,
      '-c:a',
      'libopus',
      '-shortest',
      o,
    ],
  },
  rotated: {
    file: 'portrait.mov',
    args: (o) => [...V('320x240'), ...A(), ...X264, '-c:a', 'aac', '-shortest', `${o}.plain.mov`],
    // As phones do: the stored picture is landscape, a display matrix turns it upright.
    post: (o) => ffmpeg(['-i', `${o}.plain.mov`, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', o]),
  },
  odd_size: {
    file: 'odd.mov',
    args: (o) => [...V(), ...A(), '-vf', 'scale=321:241', '-c:v', 'qtrle', '-c:a', 'aac', '-shortest', o],
  },
  yuv444: {
    file: 'full-chroma.mp4',
    args: (o) => [
      ...V(),
      ...A(),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv444p',
      '-c:a',
      'aac',
      '-shortest',
      o,
    ],
  },
  no_audio: { file: 'silent-film.mp4', args: (o) => [...V(), ...X264, o] },
  vfr: {
    file: 'vfr.mp4',
    args: (o) => [
      ...V('320x240', 2, 30),
      ...A(),
      '-vf',
      "select='lt(t\\,1)+not(mod(n\\,3))'",
      '-fps_mode',
      'vfr',
      ...X264,
      '-c:a',
      'aac',
      '-shortest',
      o,
    ],
  },
};

export async function makeGood(kind: keyof typeof GOOD_CLIPS | string, dir: string): Promise<string> {
  const clip = GOOD_CLIPS[kind]!;
  const out = path.join(dir, clip.file);
  await ffmpeg(clip.args(out));
  await clip.post?.(out);
  return out;
}

/** Inputs that must be refused, each with the error code it must get. */
export const BAD_FILES: Record<
  string,
  { file: string; code: string; make: (out: string, dir: string) => Promise<void> }
> = {
  audio_only: {
    file: 'song.m4a',
    code: 'NO_VIDEO_STREAM',
    make: (o) => ffmpeg([...A(), '-c:a', 'aac', o]),
  },
  image_as_mov: {
    file: 'holiday.mov',
    code: 'IMAGE_NOT_VIDEO',
    make: async (o) => {
      await ffmpeg([...V(), '-frames:v', '1', '-f', 'image2', '-c:v', 'png', o]);
    },
  },
  text_as_mp4: {
    file: 'notes.mp4',
    code: 'NOT_A_MEDIA_FILE',
    make: (o) => writeFile(o, 'Shopping list\n- milk\n- bread\n'.repeat(200)),
  },
  truncated_mp4: {
    file: 'cut-off.mp4',
    code: 'TRUNCATED_MEDIA',
    make: async (o) => {
      await ffmpeg([...V('320x240', 3), ...A(3), ...X264, '-c:a', 'aac', '-shortest', o]);
      await truncate(o, Math.floor((await stat(o)).size * 0.6));
    },
  },
  garbage_after_ftyp: {
    file: 'scrambled.mp4',
    code: 'CORRUPT_MEDIA',
    make: async (o, dir) => {
      const real = path.join(dir, 'real-for-ftyp.mp4');
      await ffmpeg([...V('320x240', 1), ...X264, real]);
      const head = await readFile(real);
      const ftypSize = head.readUInt32BE(0);
      let junk = randomBytes(64 * 1024);
      // Make sure the first "box" after ftyp is not accidentally a known type.
      junk.write('\u0000\u0000\u0010\u0000zzzz', 0, 'latin1');
      junk = Buffer.concat([head.subarray(0, ftypSize), junk]);
      await writeFile(o, junk);
    },
  },
  zero_bytes: {
    file: 'empty.mp4',
    code: 'FILE_EMPTY',
    make: async (o) => {
      await (await open(o, 'w')).close();
    },
  },
};

/** 4.5 s: red, then SMPTE bars at 1.5 s, then a test pattern at 3.0 s. */
export const SCENE_CUTS = [1.5, 3.0];
export async function makeScenes(dir: string): Promise<string> {
  const out = path.join(dir, 'scenes.mp4');
  await ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'color=c=red:size=320x240:rate=25:duration=1.5',
    '-f',
    'lavfi',
    '-i',
    'smptebars=size=320x240:rate=25:duration=1.5',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=25:duration=1.5',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=300:sample_rate=48000:duration=4.5',
    '-filter_complex',
    '[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]',
    '-map',
    '[v]',
    '-map',
    '3:a',
    ...X264,
    '-c:a',
    'aac',
    '-shortest',
    out,
  ]);
  return out;
}

/** Tone 0–1 s, silence 1.0–2.5 s, tone again to 4 s. */
export const SILENCE = { start: 1.0, end: 2.5 };
export async function makeSilence(dir: string): Promise<string> {
  const out = path.join(dir, 'silence.mp4');
  await ffmpeg([
    ...V('320x240', 4),
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=500:sample_rate=48000:duration=1',
    '-t',
    '1.5',
    '-f',
    'lavfi',
    '-i',
    'anullsrc=channel_layout=mono:sample_rate=48000',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=500:sample_rate=48000:duration=1.5',
    '-filter_complex',
    '[1:a][2:a][3:a]concat=n=3:v=0:a=1[a]',
    '-map',
    '0:v',
    '-map',
    '[a]',
    ...X264,
    '-c:a',
    'aac',
    out,
  ]);
  return out;
}

/** A longer clip, for the crash test: long enough that a transcode is still running when killed. */
export async function makeLong(dir: string, seconds: number): Promise<string> {
  const out = path.join(dir, 'long.avi');
  await ffmpeg([
    ...V('640x360', seconds),
    ...A(seconds),
    '-c:v',
    'mjpeg',
    '-q:v',
    '6',
    '-c:a',
    'pcm_s16le',
    '-shortest',
    out,
  ]);
  return out;
}
