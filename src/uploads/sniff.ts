import { fileTypeFromBuffer } from 'file-type';

/**
 * Decides from the first bytes of an upload whether it is a video container. The name and the
 * declared type are only what the client says; this is what the bytes say.
 */

/** How many leading bytes the verdict looks at. Matroska/WebM put their DocType within this. */
export const SNIFF_BYTES = 4096;

export type SniffVerdict =
  | { kind: 'video'; mime: string; ext: string }
  | { kind: 'not_video'; looksLike: string }
  /** Too few bytes to tell, and nothing contradicts a video. */
  | { kind: 'undetermined' };

/** Containers file-type reports under a non-`video/` MIME type. */
const VIDEO_EXTS = new Set([
  'mxf',
  'asf',
  'mts',
  'm2ts',
  'ogv',
  'mpg',
  'flv',
  'mkv',
  'webm',
  'mov',
  'mp4',
  'm4v',
]);

/** Detected types a person would not recognise by MIME alone. */
const FRIENDLY: Record<string, string> = {
  png: 'a PNG image',
  jpg: 'a JPEG image',
  gif: 'a GIF image',
  webp: 'a WebP image',
  heic: 'a HEIC image',
  pdf: 'a PDF document',
  zip: 'a ZIP archive',
  docx: 'a Word document',
  xlsx: 'an Excel spreadsheet',
  mp3: 'an MP3 audio file',
  m4a: 'an M4A audio file',
  wav: 'a WAV audio file',
  flac: 'a FLAC audio file',
  ogg: 'an Ogg audio file',
  exe: 'a Windows program',
  elf: 'a Linux program',
  gz: 'a gzip archive',
  '7z': 'a 7-Zip archive',
  rar: 'a RAR archive',
};

/**
 * MPEG transport streams have a one-byte magic: 0x47 every 188 bytes (or every 192 with a 4-byte
 * timestamp prefix, as in .m2ts/.mts from camcorders). Several consecutive sync bytes make a
 * chance match vanishingly unlikely.
 */
function isTransportStream(buf: Uint8Array): boolean {
  for (const [stride, first] of [
    [188, 0],
    [192, 4],
  ] as const) {
    let packets = 0;
    for (let i = first; i < buf.length && buf[i] === 0x47; i += stride) packets++;
    const expected = buf.length > first ? Math.floor((buf.length - first - 1) / stride) + 1 : 0;
    if (expected >= 2 && packets === expected) return true;
  }
  return false;
}

function looksLikeText(buf: Uint8Array): boolean {
  if (buf.length === 0) return false;
  let printable = 0;
  for (const b of buf) {
    if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f) || b >= 0x80) printable++;
    else if (b === 0) return false;
  }
  return printable / buf.length > 0.95;
}

/**
 * `head` is the start of the file (up to SNIFF_BYTES); `final` says it is all there is of the
 * file, or all the verdict will ever get, so an unknown format is refused rather than deferred.
 */
export async function sniffVideo(head: Uint8Array, final: boolean): Promise<SniffVerdict> {
  const type = await fileTypeFromBuffer(head);
  if (type) {
    if (type.mime.startsWith('video/') || VIDEO_EXTS.has(type.ext)) {
      return { kind: 'video', mime: type.mime, ext: type.ext };
    }
    const looksLike =
      FRIENDLY[type.ext] ??
      (type.mime.startsWith('image/')
        ? `an image (${type.ext.toUpperCase()})`
        : type.mime.startsWith('audio/')
          ? `an audio file (${type.ext.toUpperCase()})`
          : `a ${type.ext.toUpperCase()} file (${type.mime})`);
    return { kind: 'not_video', looksLike };
  }
  if (isTransportStream(head)) return { kind: 'video', mime: 'video/mp2t', ext: 'ts' };
  if (!final && head.length < SNIFF_BYTES) return { kind: 'undetermined' };
  return { kind: 'not_video', looksLike: looksLikeText(head) ? 'a text file' : 'data of an unknown kind' };
}
