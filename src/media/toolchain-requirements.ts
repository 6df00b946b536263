/**
 * What Clipdock asks of ffmpeg/ffprobe, checked at start-up (toolchain.ts). Keep it in step with
 * the commands the steps build: a filter or encoder added to a step belongs here too, or a build
 * without it passes the check and fails videos instead.
 */
export interface Requirement {
  kind: 'decoder' | 'encoder' | 'demuxer' | 'muxer' | 'filter';
  name: string;
}

/** The containers of ACCEPTED_VIDEO_EXTENSIONS, by ffmpeg's demuxer names. */
const DEMUXERS = ['mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'asf', 'flv', 'ogg', 'mxf'];

/** Codecs those containers carry in practice (a decoder counts for the codec it decodes). */
const VIDEO_DECODERS = [
  'h264',
  'hevc',
  'vp8',
  'vp9',
  'av1',
  'mpeg1video',
  'mpeg2video',
  'mpeg4',
  'h263',
  'flv1',
  'wmv1',
  'wmv2',
  'wmv3',
  'vc1',
  'theora',
  'mjpeg',
  'prores',
  'dnxhd',
];
const AUDIO_DECODERS = [
  'aac',
  'ac3',
  'eac3',
  'mp2',
  'mp3',
  'opus',
  'vorbis',
  'flac',
  'wmav1',
  'wmav2',
  'amr_nb',
  'pcm_s16le',
  'pcm_s24le',
  'pcm_bluray',
];

/** normalize: H.264/AAC MP4; thumbnails: JPEG; analyze: raw samples and a null sink. */
const ENCODERS = ['libx264', 'aac', 'mjpeg', 'pcm_s16le'];
const MUXERS = ['mp4', 'image2', 'null', 's16le'];

/**
 * normalize (scale/setsar/format, bwdif for interlaced sources, and the transpose/flip filters
 * ffmpeg inserts to turn a rotated picture upright), thumbnails (signalstats, metadata, split,
 * fps, tile), analyze (select, showinfo, asplit, silencedetect, ebur128, aresample, pan).
 */
const FILTERS = [
  'scale',
  'setsar',
  'format',
  'bwdif',
  'transpose',
  'hflip',
  'vflip',
  'signalstats',
  'metadata',
  'split',
  'fps',
  'tile',
  'select',
  'showinfo',
  'asplit',
  'silencedetect',
  'ebur128',
  'aresample',
  'pan',
];

export const REQUIRED: Requirement[] = [
  ...DEMUXERS.map((name) => ({ kind: 'demuxer' as const, name })),
  ...[...VIDEO_DECODERS, ...AUDIO_DECODERS].map((name) => ({ kind: 'decoder' as const, name })),
  ...ENCODERS.map((name) => ({ kind: 'encoder' as const, name })),
  ...MUXERS.map((name) => ({ kind: 'muxer' as const, name })),
  ...FILTERS.map((name) => ({ kind: 'filter' as const, name })),
];
