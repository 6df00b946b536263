import { AppError } from '../errors.ts';
import type { MediaInfo } from '../processing/types.ts';
import { checkWorkBudget } from './work-budget.ts';

/** ffprobe's JSON, as far as we read it. */
export interface FfprobeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  pix_fmt?: string;
  sample_aspect_ratio?: string;
  field_order?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  bit_rate?: string;
  bits_per_raw_sample?: string;
  channels?: number;
  channel_layout?: string;
  sample_rate?: string;
  duration?: string;
  nb_frames?: string;
  disposition?: { attached_pic?: number; default?: number };
  tags?: Record<string, string>;
  side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
}
export interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { format_name?: string; duration?: string; bit_rate?: string; size?: string };
}

const IMAGE_FORMATS =
  /(^|,)(image2|png_pipe|jpeg_pipe|bmp_pipe|tiff_pipe|webp_pipe|gif|gif_pipe|svg_pipe|psd_pipe|pam_pipe|ppm_pipe|jpegls_pipe|dpx_pipe|exr_pipe|j2k_pipe|qdraw_pipe|sgi_pipe|xpm_pipe|apng)(,|$)/;
const IMAGE_CODECS = new Set(['png', 'gif', 'bmp', 'tiff', 'webp', 'apng', 'jpegls', 'svg']);

export interface Limits {
  maxDurationSeconds: number;
  maxDimension: number;
  /** Width × height × frames (work-budget.ts); its default when absent. */
  maxPixelFrames?: number;
}

const num = (s: string | undefined): number | null => {
  if (s === undefined) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

function rate(s: string | undefined): number | null {
  if (!s) return null;
  const [a, b] = s.split('/').map(Number);
  if (!a || !b || !Number.isFinite(a / b)) return null;
  return Math.round((a / b) * 1000) / 1000;
}

/** Clockwise degrees to turn the stored picture for display: 0, 90, 180 or 270. */
export function rotationOf(s: FfprobeStream): number {
  const matrix = s.side_data_list?.find((d) => typeof d.rotation === 'number');
  // The display matrix states counter-clockwise rotation; the legacy tag states clockwise.
  const deg = matrix ? -(matrix.rotation as number) : Number(s.tags?.rotate ?? 0);
  const r = (((Math.round(deg / 90) * 90) % 360) + 360) % 360;
  return Number.isFinite(r) ? r : 0;
}

/** "16:11" → 16/11; unset, "0:1" or nonsense → 1 (square). */
export function sampleAspectRatioOf(s: FfprobeStream): number {
  const [n, d] = (s.sample_aspect_ratio ?? '').split(':').map(Number);
  if (!n || !d || !Number.isFinite(n / d) || n / d < 0.1 || n / d > 10) return 1;
  return n / d;
}

function bitDepthOf(s: FfprobeStream): number {
  const m = /p(9|10|12|14|16)(le|be)?$/.exec(s.pix_fmt ?? '');
  if (m) return Number(m[1]);
  return Number(s.bits_per_raw_sample) || 8;
}

/**
 * Turns ffprobe's view into MediaInfo, or refuses with the code that tells the uploader what is
 * wrong: an image, no picture, an undecodable codec, or beyond the server's limits.
 */
export function interpretProbe(out: FfprobeOutput, sizeBytes: number, limits: Limits): MediaInfo {
  const streams = out.streams ?? [];
  const formatName = out.format?.format_name ?? '';
  const videos = streams.filter((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audios = streams.filter((s) => s.codec_type === 'audio');

  if (
    IMAGE_FORMATS.test(formatName) ||
    (videos.length > 0 && videos.every((v) => IMAGE_CODECS.has(v.codec_name ?? '')))
  ) {
    const kind = formatName.includes('gif')
      ? 'an animated GIF'
      : `an image (${formatName.replace(/_pipe$/, '').toUpperCase()})`;
    throw new AppError(
      'IMAGE_NOT_VIDEO',
      `This file is ${kind}, not a video. Upload a video file (MP4, MOV, WebM, ...).`,
      { format: formatName },
    );
  }
  const v = videos[0];
  if (!v) {
    throw new AppError(
      audios.length > 0 ? 'NO_VIDEO_STREAM' : 'NOT_A_MEDIA_FILE',
      audios.length > 0
        ? `This file holds only audio (${audios[0]!.codec_name ?? 'unknown codec'}), no video picture. Upload a file that contains video.`
        : undefined,
      { format: formatName },
    );
  }
  if (!v.codec_name || v.codec_name === 'none' || v.codec_name === 'unknown' || !v.width || !v.height) {
    throw new AppError(
      'UNSUPPORTED_CODEC',
      `The video stream's codec (${v.codec_name ?? v.tags?.handler_name ?? 'unknown'}) cannot be decoded here. Export the video as H.264 MP4 and upload it again.`,
    );
  }

  const duration = num(out.format?.duration) ?? num(v.duration) ?? null;
  if (duration === null || duration <= 0) {
    throw new AppError(
      'CORRUPT_MEDIA',
      'This file does not say how long it is, and its video cannot be read. Export it again from its source.',
    );
  }
  if (duration > limits.maxDurationSeconds) {
    throw new AppError(
      'DURATION_TOO_LONG',
      `This video lasts ${formatDuration(duration)}; this server accepts up to ${formatDuration(limits.maxDurationSeconds)}. Trim or split it, then upload again.`,
      { durationSeconds: duration, maxDurationSeconds: limits.maxDurationSeconds },
    );
  }
  const rotation = rotationOf(v);
  const swap = rotation === 90 || rotation === 270;
  const sar = sampleAspectRatioOf(v);
  const shownWidth = Math.round(v.width * sar);
  const width = swap ? v.height : shownWidth;
  const height = swap ? shownWidth : v.height;
  if (Math.max(width, height) > limits.maxDimension) {
    throw new AppError(
      'DIMENSIONS_TOO_LARGE',
      `This video is ${width}×${height}; this server accepts up to ${limits.maxDimension} pixels on a side. Export it at a lower resolution.`,
      { width, height, maxDimension: limits.maxDimension },
    );
  }
  const rFrame = rate(v.r_frame_rate);
  const avgFrame = rate(v.avg_frame_rate);
  checkWorkBudget(
    { width, height, durationSeconds: duration, frameRate: avgFrame ?? rFrame },
    limits.maxPixelFrames,
  );
  const a =
    audios.find((s) => s.disposition?.default && s.codec_name) ?? audios.find((s) => s.codec_name) ?? null;
  return {
    container: formatName,
    sizeBytes,
    durationSeconds: duration,
    width,
    height,
    codedWidth: v.width,
    codedHeight: v.height,
    sampleAspectRatio: sar,
    // "tt"/"bb" (fields in display order) and "tb"/"bt" (swapped) are interlaced; "progressive"
    // and "unknown" (most codecs that cannot say) are not.
    interlaced: ['tt', 'bb', 'tb', 'bt'].includes(v.field_order ?? ''),
    rotation,
    videoCodec: v.codec_name,
    videoProfile: v.profile ?? null,
    pixelFormat: v.pix_fmt ?? null,
    bitDepth: bitDepthOf(v),
    frameRate: avgFrame ?? rFrame,
    variableFrameRate: rFrame !== null && avgFrame !== null && Math.abs(rFrame - avgFrame) / rFrame > 0.01,
    bitRate: num(out.format?.bit_rate) ?? num(v.bit_rate),
    videoStreamIndex: v.index,
    audio: a
      ? {
          codec: a.codec_name!,
          channels: a.channels ?? 0,
          channelLayout: a.channel_layout ?? null,
          sampleRate: num(a.sample_rate),
          streamIndex: a.index,
        }
      : null,
    audioStreamCount: audios.length,
  };
}

function formatDuration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${sec} s` : `${sec} s`;
}
