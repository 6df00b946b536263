/**
 * What the browser can tell about a file before sending a byte: its name, its size and its first
 * 4 KiB. The server checks again (it is the authority); this only spares people a wasted upload.
 */

export type Precheck = { ok: true; container: string } | { ok: false; reason: string };

const ascii = (b: Uint8Array, at: number, s: string) =>
  b.length >= at + s.length && [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
const bytes = (b: Uint8Array, at: number, seq: number[]) =>
  b.length >= at + seq.length && seq.every((x, i) => b[at + i] === x);

/** Names the container that the first bytes announce, or null when they announce no video container. */
export function sniffContainer(b: Uint8Array): string | null {
  // ISO BMFF (MP4, MOV, 3GP, M4V): a box type at offset 4. Old QuickTime files may open with moov/mdat/wide.
  for (const box of ['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip', 'pnot']) {
    if (ascii(b, 4, box)) return box === 'ftyp' ? 'MP4/QuickTime' : 'QuickTime';
  }
  if (bytes(b, 0, [0x1a, 0x45, 0xdf, 0xa3])) return 'Matroska/WebM';
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'AVI ')) return 'AVI';
  if (b[0] === 0x47 && (b.length < 189 || b[188] === 0x47)) return 'MPEG-TS';
  if (b[4] === 0x47 && (b.length < 197 || b[196] === 0x47)) return 'MPEG-TS (M2TS)';
  if (bytes(b, 0, [0x00, 0x00, 0x01, 0xba]) || bytes(b, 0, [0x00, 0x00, 0x01, 0xb3])) return 'MPEG-PS';
  if (ascii(b, 0, 'FLV')) return 'FLV';
  if (bytes(b, 0, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11])) return 'ASF/WMV';
  if (ascii(b, 0, 'OggS')) return 'Ogg';
  if (bytes(b, 0, [0x06, 0x0e, 0x2b, 0x34])) return 'MXF';
  return null;
}

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

export async function precheckFile(
  file: File,
  opts: { maxBytes: number; freeBytes: number; extensions: readonly string[] },
): Promise<Precheck> {
  const ext = extensionOf(file.name);
  const typeIsVideo = file.type.startsWith('video/') || file.type === 'application/mxf';
  if (!opts.extensions.includes(ext) && !typeIsVideo) {
    return {
      ok: false,
      reason: `“.${ext || '?'}” is not a video format we accept. Pick an MP4, MOV, WebM, MKV, AVI or similar file.`,
    };
  }
  if (file.size === 0) return { ok: false, reason: 'This file is empty (0 bytes).' };
  if (file.size > opts.maxBytes) {
    return {
      ok: false,
      reason: `This file is larger than the ${formatLimit(opts.maxBytes)} per-file limit.`,
    };
  }
  if (file.size > opts.freeBytes) {
    return { ok: false, reason: 'Not enough storage left in your account for this file.' };
  }
  const head = new Uint8Array(await file.slice(0, 4096).arrayBuffer());
  const container = sniffContainer(head);
  if (!container) {
    return {
      ok: false,
      reason:
        'This file is not a video: its content does not start like any video format, whatever its name says.',
    };
  }
  return { ok: true, container };
}

function formatLimit(n: number): string {
  return n >= 1024 ** 3 ? `${Math.round(n / 1024 ** 3)} GB` : `${Math.round(n / 1024 ** 2)} MB`;
}
