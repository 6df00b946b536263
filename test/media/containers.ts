import path from 'node:path';
import { ffmpeg } from './fixtures.ts';

/**
 * One real file per accepted extension, holding the codecs such files hold in the wild, made
 * with ffmpeg's lavfi sources (1.5 s, small pictures, so 17 of them convert quickly on two cores).
 * `probe` is what ffprobe must see in the generated file, so a fixture cannot silently drift into
 * something easier; `display` is the picture as a player shows it (anamorphic sources widen).
 */
export interface ContainerFixture {
  /** Where files like this come from. */
  what: string;
  probe: { format: string; video: string; audio: string; interlaced?: boolean };
  display: [number, number];
  args: (out: string) => string[];
}

const SECONDS = 1.5;
const V = (size = '320x240', rate = 25) => [
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=${size}:rate=${rate}:duration=${SECONDS}`,
];
const A = (rate = 48000) => [
  '-f',
  'lavfi',
  '-i',
  `sine=frequency=440:sample_rate=${rate}:duration=${SECONDS}`,
];
const STEREO = ['-ac', '2'];
const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
/**
 * Real 25i, as camcorders and broadcast SD/1080i record it: 50 pictures a second woven into
 * top-field-first frames (so a frame shows combing where things move), coded as fields.
 */
const V_INTERLACED = V('320x240', 50);
const INTERLACED = ['-vf', 'interlace=scan=tff', '-flags', '+ildct+ilme', '-top', '1'];

export const CONTAINER_FIXTURES: Record<string, ContainerFixture> = {
  mp4: {
    what: 'a phone: H.264 + AAC',
    probe: { format: 'mov,mp4,m4a,3gp,3g2,mj2', video: 'h264', audio: 'aac' },
    display: [320, 240],
    args: (o) => [...V(), ...A(), ...X264, '-c:a', 'aac', '-shortest', o],
  },
  mov: {
    what: 'a camera: H.264 + linear PCM in QuickTime',
    probe: { format: 'mov,mp4,m4a,3gp,3g2,mj2', video: 'h264', audio: 'pcm_s16le' },
    display: [320, 240],
    args: (o) => [...V(), ...A(), ...STEREO, ...X264, '-c:a', 'pcm_s16le', '-shortest', o],
  },
  m4v: {
    what: 'iTunes/HandBrake: H.264 + AAC in the iPod flavour of MP4',
    probe: { format: 'mov,mp4,m4a,3gp,3g2,mj2', video: 'h264', audio: 'aac' },
    display: [320, 240],
    args: (o) => [...V(), ...A(), ...X264, '-c:a', 'aac', '-shortest', '-f', 'ipod', o],
  },
  webm: {
    what: 'a browser recording: VP9 + Opus',
    probe: { format: 'matroska,webm', video: 'vp9', audio: 'opus' },
    display: [320, 240],
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
  mkv: {
    what: 'a rip: HEVC + AC-3 in Matroska',
    probe: { format: 'matroska,webm', video: 'hevc', audio: 'ac3' },
    display: [320, 240],
    args: (o) => [
      ...V(),
      ...A(),
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'log-level=error',
      '-c:a',
      'ac3',
      '-shortest',
      o,
    ],
  },
  avi: {
    what: 'an XviD AVI: MPEG-4 Part 2 with B-frames + MP3',
    probe: { format: 'avi', video: 'mpeg4', audio: 'mp3' },
    display: [320, 240],
    args: (o) => [
      ...V(),
      ...A(44100),
      '-c:v',
      'mpeg4',
      '-vtag',
      'XVID',
      '-bf',
      '2',
      '-q:v',
      '5',
      '-c:a',
      'libmp3lame',
      '-shortest',
      o,
    ],
  },
  mts: {
    what: 'an AVCHD camcorder: interlaced H.264 + AC-3 in 192-byte-packet M2TS',
    probe: { format: 'mpegts', video: 'h264', audio: 'ac3', interlaced: true },
    display: [320, 240],
    args: (o) => [
      ...V_INTERLACED,
      ...A(),
      ...X264,
      ...INTERLACED,
      '-c:a',
      'ac3',
      '-shortest',
      '-f',
      'mpegts',
      '-mpegts_m2ts_mode',
      '1',
      o,
    ],
  },
  m2ts: {
    what: 'AVCHD/Blu-ray 1440×1080-style anamorphic H.264 (4:3 pixels) + AC-3 in M2TS',
    probe: { format: 'mpegts', video: 'h264', audio: 'ac3' },
    display: [320, 180],
    args: (o) => [
      ...V('240x180'),
      ...A(),
      ...X264,
      '-aspect',
      '16:9',
      '-c:a',
      'ac3',
      '-shortest',
      '-f',
      'mpegts',
      '-mpegts_m2ts_mode',
      '1',
      o,
    ],
  },
  ts: {
    what: 'a broadcast recording: interlaced MPEG-2 video + MP2 in MPEG-TS',
    probe: { format: 'mpegts', video: 'mpeg2video', audio: 'mp2', interlaced: true },
    display: [320, 240],
    args: (o) => [
      ...V_INTERLACED,
      ...A(),
      '-c:v',
      'mpeg2video',
      ...INTERLACED,
      '-b:v',
      '2M',
      '-c:a',
      'mp2',
      '-shortest',
      '-f',
      'mpegts',
      o,
    ],
  },
  '3gp': {
    what: 'an old phone: H.263 + AAC in 3GP',
    probe: { format: 'mov,mp4,m4a,3gp,3g2,mj2', video: 'h263', audio: 'aac' },
    display: [176, 144],
    args: (o) => [
      ...V('176x144', 15),
      ...A(),
      '-c:v',
      'h263',
      '-c:a',
      'aac',
      '-ar',
      '16000',
      '-ac',
      '1',
      '-shortest',
      '-f',
      '3gp',
      o,
    ],
  },
  '3g2': {
    what: 'a CDMA phone: MPEG-4 Part 2 + AAC in 3GPP2',
    probe: { format: 'mov,mp4,m4a,3gp,3g2,mj2', video: 'mpeg4', audio: 'aac' },
    display: [176, 144],
    args: (o) => [
      ...V('176x144', 15),
      ...A(),
      '-c:v',
      'mpeg4',
      '-c:a',
      'aac',
      '-ac',
      '1',
      '-shortest',
      '-f',
      '3g2',
      o,
    ],
  },
  mpg: {
    what: 'a DVD: anamorphic 16:9 MPEG-2 + AC-3 in an MPEG-PS (VOB) stream',
    probe: { format: 'mpeg', video: 'mpeg2video', audio: 'ac3' },
    display: [512, 288],
    args: (o) => [
      ...V('352x288'),
      ...A(),
      '-c:v',
      'mpeg2video',
      '-aspect',
      '16:9',
      '-b:v',
      '2M',
      '-c:a',
      'ac3',
      '-shortest',
      '-f',
      'dvd',
      o,
    ],
  },
  mpeg: {
    what: 'a VCD-era capture: MPEG-1 video + MP2 in an MPEG-1 system stream',
    probe: { format: 'mpeg', video: 'mpeg1video', audio: 'mp2' },
    display: [320, 240],
    args: (o) => [
      ...V(),
      ...A(44100),
      '-c:v',
      'mpeg1video',
      '-b:v',
      '1M',
      '-c:a',
      'mp2',
      '-shortest',
      '-f',
      'mpeg',
      o,
    ],
  },
  wmv: {
    what: 'Windows Movie Maker: WMV2 + WMA2 in ASF',
    probe: { format: 'asf', video: 'wmv2', audio: 'wmav2' },
    display: [320, 240],
    args: (o) => [...V(), ...A(44100), '-c:v', 'wmv2', '-b:v', '500k', '-c:a', 'wmav2', '-shortest', o],
  },
  flv: {
    what: 'a Flash-era download: Sorenson Spark (FLV1) + MP3',
    probe: { format: 'flv', video: 'flv1', audio: 'mp3' },
    display: [320, 240],
    args: (o) => [...V(), ...A(44100), '-c:v', 'flv1', '-b:v', '500k', '-c:a', 'libmp3lame', '-shortest', o],
  },
  ogv: {
    what: 'Wikimedia Commons: Theora + Vorbis in Ogg',
    probe: { format: 'ogg', video: 'theora', audio: 'vorbis' },
    display: [320, 240],
    args: (o) => [...V(), ...A(44100), '-c:v', 'libtheora', '-q:v', '5', '-c:a', 'libvorbis', '-shortest', o],
  },
  mxf: {
    what: 'a broadcast camera (XDCAM-style): MPEG-2 + 24-bit PCM in MXF',
    probe: { format: 'mxf', video: 'mpeg2video', audio: 'pcm_s24le' },
    display: [320, 240],
    args: (o) => [
      ...V(),
      ...A(),
      '-c:v',
      'mpeg2video',
      '-b:v',
      '5M',
      '-c:a',
      'pcm_s24le',
      '-shortest',
      '-f',
      'mxf',
      o,
    ],
  },
};

export async function makeContainer(ext: string, dir: string): Promise<string> {
  const fixture = CONTAINER_FIXTURES[ext];
  if (!fixture) throw new Error(`no container fixture for .${ext}`);
  const out = path.join(dir, `clip.${ext}`);
  await ffmpeg(fixture.args(out));
  return out;
}
