import { fileTypeFromBuffer } from 'file-type';

/**
 * Which container a file is, decided by Clipdock from the file's head, never by ffmpeg's own
 * probing. ffmpeg, left to guess, opens whatever a file claims to be: an HLS playlist or a concat
 * list reads other files and URLs. So every ffmpeg/ffprobe run on user data forces the demuxer
 * chosen here, from an allow-list of plain video containers, none of which opens anything else.
 *
 * Invariants:
 * - A video verdict is given only after the whole window (DETECT_BYTES, or the whole file when
 *   it is shorter) was seen: a playlist, concat list, SDP or HTML signature anywhere in it, or a
 *   prefix (ID3) in front of the container, makes the file "ambiguous", refused.
 * - The container must start at byte 0; nothing is skipped to find one.
 */

/** How much of the head every verdict looks at. */
export const DETECT_BYTES = 64 * 1024;

/** ffmpeg demuxers Clipdock lets run on user data. None of them opens nested inputs. */
export const DEMUXERS = ['mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'asf', 'flv', 'ogg', 'mxf'] as const;
export type Demuxer = (typeof DEMUXERS)[number];

export const CONTAINERS = {
  mp4: { demuxer: 'mov', mime: 'video/mp4', label: 'an MP4 video' },
  mov: { demuxer: 'mov', mime: 'video/quicktime', label: 'a QuickTime (MOV) video' },
  m4v: { demuxer: 'mov', mime: 'video/x-m4v', label: 'an M4V video' },
  '3gp': { demuxer: 'mov', mime: 'video/3gpp', label: 'a 3GP video' },
  '3g2': { demuxer: 'mov', mime: 'video/3gpp2', label: 'a 3G2 video' },
  matroska: { demuxer: 'matroska', mime: 'video/x-matroska', label: 'a Matroska (MKV) video' },
  webm: { demuxer: 'matroska', mime: 'video/webm', label: 'a WebM video' },
  avi: { demuxer: 'avi', mime: 'video/x-msvideo', label: 'an AVI video' },
  mpegts: { demuxer: 'mpegts', mime: 'video/mp2t', label: 'an MPEG transport stream (TS)' },
  m2ts: { demuxer: 'mpegts', mime: 'video/mp2t', label: 'an AVCHD/Blu-ray transport stream (M2TS/MTS)' },
  mpegps: { demuxer: 'mpeg', mime: 'video/mpeg', label: 'an MPEG program stream (MPG/VOB)' },
  asf: { demuxer: 'asf', mime: 'video/x-ms-asf', label: 'a Windows Media (ASF/WMV) file' },
  flv: { demuxer: 'flv', mime: 'video/x-flv', label: 'a Flash video (FLV)' },
  ogg: { demuxer: 'ogg', mime: 'video/ogg', label: 'an Ogg video' },
  mxf: { demuxer: 'mxf', mime: 'application/mxf', label: 'an MXF video' },
} as const satisfies Record<string, { demuxer: Demuxer; mime: string; label: string }>;
export type ContainerId = keyof typeof CONTAINERS;

export interface Container {
  id: ContainerId;
  demuxer: Demuxer;
  mime: string;
  label: string;
}

/** What a non-video looks like, so the refusal can name it and pick the right code. */
export type NotVideoKind = 'image' | 'audio' | 'playlist' | 'other';

export type Detection =
  | { kind: 'video'; container: Container }
  /** Two readings of one file: a converter could take either, so none is taken. */
  | { kind: 'ambiguous'; container: Container; also: string }
  | { kind: 'not_video'; looksLike: string; category: NotVideoKind }
  /** Too few bytes to tell, and nothing so far contradicts a video. */
  | { kind: 'undetermined' };

const container = (id: ContainerId): Container => ({ id, ...CONTAINERS[id] });

/**
 * Text that makes ffmpeg (or a browser) open something else, searched anywhere in the head.
 * Each is long or specific enough not to occur by chance in compressed data.
 */
const HOSTILE: Array<{ re: RegExp; looksLike: string }> = [
  { re: /#EXTM3U|#EXT-X-[A-Z]/, looksLike: 'an HLS playlist' },
  { re: /ffconcat version/, looksLike: 'an ffmpeg concat list' },
  // Not "urn:mpeg:dash:": DASH media segments (fMP4 with emsg boxes) carry it legitimately.
  { re: /<MPD[\s>]/, looksLike: 'a DASH manifest' },
  { re: /<SmoothStreamingMedia/, looksLike: 'a Smooth Streaming manifest' },
  { re: /v=0\r?\n[\s\S]{0,4096}?\n(c=IN IP[46] |m=(audio|video) )/, looksLike: 'an SDP session description' },
  { re: /<html|<script|<!doctype html|<iframe|<body/i, looksLike: 'an HTML page' },
];

function hostileText(head: Uint8Array): string | undefined {
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  return HOSTILE.find((h) => h.re.test(text))?.looksLike;
}

const readU32 = (b: Uint8Array, at: number) =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUInt32BE(at);
const inRange = (n: number, lo: number, hi: number) => n >= lo && n <= hi;
const ascii = (b: Uint8Array, start: number, end: number) =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', start, end);
const startsWith = (b: Uint8Array, bytes: number[], at = 0) =>
  b.length >= at + bytes.length && bytes.every((x, i) => b[at + i] === x);

const ASF_GUID = [
  0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c,
];
/** SMPTE universal label of an MXF partition pack (header partition). */
const MXF_KEY = [0x06, 0x0e, 0x2b, 0x34, 0x02, 0x05, 0x01, 0x01, 0x0d, 0x01, 0x02, 0x01, 0x01];
const EBML = [0x1a, 0x45, 0xdf, 0xa3];
/** QuickTime files without `ftyp` start with one of these atoms. */
const QT_FIRST_ATOMS = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);
const AUDIO_BRANDS = new Set(['M4A', 'M4B', 'M4P', 'F4A', 'F4B']);
const IMAGE_BRANDS = new Set([
  'avif',
  'avis',
  'heic',
  'heix',
  'hevc',
  'hevx',
  'heim',
  'heis',
  'mif1',
  'msf1',
]);

type AtZero = Detection | { kind: 'unknown' };

/** 0x47 at every packet start the head holds (188-byte TS, or 192-byte M2TS with a 4-byte prefix). */
function transportStream(head: Uint8Array): ContainerId | undefined {
  for (const [stride, first, id] of [
    [188, 0, 'mpegts'],
    [192, 4, 'm2ts'],
  ] as const) {
    let packets = 0;
    for (let i = first; i < head.length && head[i] === 0x47; i += stride) packets++;
    const expected = head.length > first ? Math.floor((head.length - first - 1) / stride) + 1 : 0;
    if (expected >= 2 && packets === expected) return id;
  }
  return undefined;
}

function isoBmff(head: Uint8Array): AtZero {
  const brand = ascii(head, 8, 12);
  const trimmed = brand.replace(/[\0 ]+$/, '');
  if (AUDIO_BRANDS.has(trimmed))
    return { kind: 'not_video', looksLike: 'an M4A audio file', category: 'audio' };
  if (IMAGE_BRANDS.has(trimmed))
    return { kind: 'not_video', looksLike: 'a HEIF/AVIF image', category: 'image' };
  if (trimmed === 'crx') return { kind: 'not_video', looksLike: 'a camera RAW image', category: 'image' };
  if (trimmed === 'qt') return { kind: 'video', container: container('mov') };
  if (trimmed.startsWith('3g2')) return { kind: 'video', container: container('3g2') };
  if (/^3g[pesg]/.test(trimmed)) return { kind: 'video', container: container('3gp') };
  if (trimmed.startsWith('M4V')) return { kind: 'video', container: container('m4v') };
  return { kind: 'video', container: container('mp4') };
}

/** Ogg carries audio far more often than video: it is a video only with a video codec's header. */
function ogg(head: Uint8Array): AtZero {
  const text = ascii(head, 0, head.length);
  if (/\x80theora|OVP80|BBCD\0|\x80daala/.test(text)) return { kind: 'video', container: container('ogg') };
  return { kind: 'not_video', looksLike: 'an Ogg audio file', category: 'audio' };
}

/** The container whose signature starts at byte 0, if any. */
function atZero(head: Uint8Array): AtZero {
  if (head.length >= 12 && ascii(head, 4, 8) === 'ftyp') return isoBmff(head);
  // Any atom size but 2..7 (0: to the end of the file, 1: a 64-bit size follows).
  if (head.length >= 8 && QT_FIRST_ATOMS.has(ascii(head, 4, 8)) && !inRange(readU32(head, 0), 2, 7)) {
    return { kind: 'video', container: container('mov') };
  }
  if (startsWith(head, EBML)) {
    const docType = ascii(head, 0, Math.min(head.length, 64));
    return { kind: 'video', container: container(docType.includes('webm') ? 'webm' : 'matroska') };
  }
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF') {
    const form = ascii(head, 8, 12);
    if (form === 'AVI ') return { kind: 'video', container: container('avi') };
    if (form === 'WAVE') return { kind: 'not_video', looksLike: 'a WAV audio file', category: 'audio' };
    if (form === 'WEBP') return { kind: 'not_video', looksLike: 'a WebP image', category: 'image' };
    return { kind: 'unknown' };
  }
  if (startsWith(head, ASF_GUID)) return { kind: 'video', container: container('asf') };
  if (startsWith(head, [0x46, 0x4c, 0x56, 0x01])) return { kind: 'video', container: container('flv') };
  if (ascii(head, 0, 4) === 'OggS') return ogg(head);
  if (startsWith(head, MXF_KEY)) return { kind: 'video', container: container('mxf') };
  if (startsWith(head, [0x00, 0x00, 0x01, 0xba])) return { kind: 'video', container: container('mpegps') };
  const ts = transportStream(head);
  if (ts) return { kind: 'video', container: container(ts) };
  return { kind: 'unknown' };
}

/** Friendlier names for what file-type finds, when the file is no accepted container. */
const FRIENDLY: Record<string, [string, NotVideoKind]> = {
  png: ['a PNG image', 'image'],
  jpg: ['a JPEG image', 'image'],
  gif: ['a GIF image', 'image'],
  webp: ['a WebP image', 'image'],
  heic: ['a HEIC image', 'image'],
  pdf: ['a PDF document', 'other'],
  zip: ['a ZIP archive', 'other'],
  docx: ['a Word document', 'other'],
  xlsx: ['an Excel spreadsheet', 'other'],
  mp3: ['an MP3 audio file', 'audio'],
  m4a: ['an M4A audio file', 'audio'],
  wav: ['a WAV audio file', 'audio'],
  flac: ['a FLAC audio file', 'audio'],
  ogg: ['an Ogg audio file', 'audio'],
  exe: ['a Windows program', 'other'],
  elf: ['a Linux program', 'other'],
  gz: ['a gzip archive', 'other'],
  '7z': ['a 7-Zip archive', 'other'],
  rar: ['a RAR archive', 'other'],
};

function looksLikeText(buf: Uint8Array): boolean {
  if (buf.length === 0) return false;
  let printable = 0;
  for (const b of buf) {
    if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f) || b >= 0x80) printable++;
    else if (b === 0) return false;
  }
  return printable / buf.length > 0.95;
}

async function describe(head: Uint8Array): Promise<Detection> {
  const type = await fileTypeFromBuffer(head).catch(() => undefined);
  if (type) {
    const known = FRIENDLY[type.ext];
    if (known) return { kind: 'not_video', looksLike: known[0], category: known[1] };
    const category: NotVideoKind = type.mime.startsWith('image/')
      ? 'image'
      : type.mime.startsWith('audio/')
        ? 'audio'
        : 'other';
    const looksLike =
      category === 'image'
        ? `an image (${type.ext.toUpperCase()})`
        : category === 'audio'
          ? `an audio file (${type.ext.toUpperCase()})`
          : type.mime.startsWith('video/')
            ? `a ${type.ext.toUpperCase()} stream in no container Clipdock accepts`
            : `a ${type.ext.toUpperCase()} file (${type.mime})`;
    return { kind: 'not_video', looksLike, category };
  }
  return {
    kind: 'not_video',
    looksLike: looksLikeText(head) ? 'a text file' : 'data of an unknown kind',
    category: 'other',
  };
}

/** Length of an ID3v2 tag at the start (header, body and footer), or 0. */
function id3Length(head: Uint8Array): number {
  if (head.length < 10 || ascii(head, 0, 3) !== 'ID3') return 0;
  const size =
    ((head[6]! & 0x7f) << 21) | ((head[7]! & 0x7f) << 14) | ((head[8]! & 0x7f) << 7) | (head[9]! & 0x7f);
  return 10 + size + (head[5]! & 0x10 ? 10 : 0);
}

/**
 * Decides what `head` (the first bytes of a file) is. `complete` says `head` is the whole file;
 * otherwise a verdict needs DETECT_BYTES bytes, except a refusal that the start already proves.
 */
export async function detectContainer(head: Uint8Array, complete: boolean): Promise<Detection> {
  const window = head.subarray(0, DETECT_BYTES);
  const seenAll = complete || window.length >= DETECT_BYTES;
  const hostile = hostileText(window);

  const id3 = id3Length(window);
  if (id3 > 0) {
    // ffmpeg and file-type both skip ID3 tags, by different lengths: whatever follows is hidden.
    const after = [id3 - 10, id3].map((at) => atZero(window.subarray(at))).find((d) => d.kind === 'video');
    if (after?.kind === 'video') {
      const also = hostile ? `${hostile} behind an MP3 tag (ID3)` : 'an MP3 tag (ID3) in front of it';
      return { kind: 'ambiguous', container: after.container, also };
    }
    if (hostile) return { kind: 'not_video', looksLike: hostile, category: 'playlist' };
    return { kind: 'not_video', looksLike: 'an MP3 audio file', category: 'audio' };
  }

  const found = atZero(window);
  if (found.kind === 'video') {
    if (hostile) return { kind: 'ambiguous', container: found.container, also: hostile };
    return seenAll ? found : { kind: 'undetermined' };
  }
  if (found.kind === 'not_video') return found;
  if (hostile) return { kind: 'not_video', looksLike: hostile, category: 'playlist' };
  const described = await describe(window);
  // A short start of an unknown kind may still turn out to be a transport stream or a video.
  if (!seenAll && described.kind === 'not_video' && described.category === 'other')
    return { kind: 'undetermined' };
  return described;
}

/** True when ffprobe's `format_name` (e.g. "mov,mp4,m4a,3gp,3g2,mj2") is the forced demuxer. */
export function formatAgrees(demuxer: Demuxer, formatName: string | undefined): boolean {
  return (formatName ?? '').split(',').includes(demuxer);
}

/** The refusal message for a file that reads as two things (`name`: the file's, when known). */
export function ambiguousMessage(d: { container: Container; also: string }, name?: string): string {
  return `${name ? `"${name}"` : 'This file'} reads as two things at once: ${d.container.label} and ${d.also}. Clipdock refuses such files because a converter could take either one. Export the video again from its source (MP4, MOV, MKV, ...) and upload that file.`;
}
