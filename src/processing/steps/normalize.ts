import path from 'node:path';
import { capFor, type ForcedInput } from '../../media/input-args.ts';
import type { FfmpegJob } from '../../media/media-tools.ts';
import { keys } from '../../storage/object-store.ts';
import type { MediaInfo, NormalizeMode } from '../types.ts';
import { need, originalInput, type Step } from './step.ts';

/**
 * The browser-playable MP4: H.264 8-bit 4:2:0, AAC, moov first (+faststart), even dimensions,
 * upright, progressive, square pixels. The cheapest route that gets there wins: remux, or copy
 * the video and convert only the audio, or a full transcode.
 */
const BROWSER_PIX_FMTS = new Set(['yuv420p', 'yuvj420p']);

export function videoFits(m: MediaInfo): boolean {
  return (
    m.videoCodec === 'h264' &&
    BROWSER_PIX_FMTS.has(m.pixelFormat ?? '') &&
    m.bitDepth === 8 &&
    m.codedWidth % 2 === 0 &&
    m.codedHeight % 2 === 0 &&
    // Browsers honour rotation metadata unevenly; an upright picture plays the same everywhere.
    m.rotation === 0 &&
    // Phones' hardware decoders often refuse interlaced H.264 (AVCHD 1080i), and posters and
    // storyboards drawn from non-square pixels (DVD, 1440×1080 AVCHD) come out squeezed.
    !m.interlaced &&
    (m.sampleAspectRatio ?? 1) === 1
  );
}

export function audioFits(m: MediaInfo): boolean {
  return m.audio === null || (m.audio.codec === 'aac' && m.audio.channels <= 2);
}

export function chooseMode(m: MediaInfo): NormalizeMode {
  if (!videoFits(m)) return 'transcode';
  return audioFits(m) ? 'remux' : 'audio';
}

/** The ffmpeg run that makes the MP4; its output holds no more frames than the probe found. */
export function normalizeJob(
  m: MediaInfo,
  mode: NormalizeMode,
  input: ForcedInput,
  output: string,
  threads: number,
): FfmpegJob {
  const cap = capFor(m);
  return { input, cap, args: normalizeArgs(m, mode, output, threads, cap.frames) };
}

function normalizeArgs(
  m: MediaInfo,
  mode: NormalizeMode,
  output: string,
  threads: number,
  frames: number,
): string[] {
  const maps = ['-map', `0:${m.videoStreamIndex}`, ...(m.audio ? ['-map', `0:${m.audio.streamIndex}`] : [])];
  const audioConvert = ['-c:a', 'aac', '-b:a', '160k', '-ac', String(Math.min(2, m.audio?.channels || 2))];
  const common = [
    '-frames:v',
    String(frames),
    '-map_metadata',
    '-1',
    '-movflags',
    '+faststart',
    '-threads',
    String(threads),
    '-f',
    'mp4',
    output,
  ];
  if (mode === 'remux') return [...maps, '-c', 'copy', ...common];
  if (mode === 'audio') return [...maps, '-c:v', 'copy', ...(m.audio ? audioConvert : []), ...common];
  return [
    ...maps,
    // ffmpeg turns the picture upright (autorotate) before this filter. Fields become frames
    // (one per frame, so the frame rate stays), pixels become square at the displayed width,
    // and the sides even.
    '-vf',
    `${m.interlaced ? 'bwdif=mode=send_frame:parity=auto:deint=interlaced,' : ''}scale=trunc(iw*sar/2)*2:trunc(ih/2)*2,setsar=1,format=yuv420p`,
    '-metadata:s:v:0',
    'rotate=0',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '23',
    '-profile:v',
    'high',
    '-pix_fmt',
    'yuv420p',
    // Keep variable frame rates as they are rather than duplicating frames. (-fps_mode is
    // 5.1's name for -vsync, which it deprecates.)
    '-fps_mode',
    'vfr',
    ...(m.audio ? audioConvert : []),
    ...common,
  ];
}

export const normalizeStep: Step<'normalize'> = async (c) => {
  const m = need(c, 'probe');
  const mode = chooseMode(m);
  const out = path.join(c.tmpDir, 'video.mp4');
  await c.media.ffmpeg(normalizeJob(m, mode, await originalInput(c), out, c.media.threads), {
    signal: c.signal,
    durationSeconds: m.durationSeconds,
    onProgress: c.onProgress,
  });
  const key = keys.output(c.videoId, 'video.mp4');
  const info = await c.store.putFile(key, out, { contentType: 'video/mp4' });
  return { mode, key, sizeBytes: info.size, durationSeconds: m.durationSeconds, hasAudio: m.audio !== null };
};
