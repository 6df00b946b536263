import type { Demuxer } from './container.ts';

/**
 * How user data is handed to ffmpeg and ffprobe: the one place that writes `-i`. Every run names
 * the demuxer Clipdock's detection chose (never ffmpeg's guess, which would open playlists and
 * concat lists) and allows only the protocols the input itself needs: `file` for a path, the
 * http(s) stack for a signed URL. The allowed demuxers open no nested inputs, so a file cannot
 * make ffmpeg read another file or a URL.
 */
export interface ForcedInput {
  /** A local path or a signed http(s) URL. */
  location: string;
  demuxer: Demuxer;
}

/** How much of an input one run may read: what the probe found, plus a margin. */
export interface RunCap {
  seconds: number;
  /** Video frames an output may hold. */
  frames: number;
}

/** Options that open an input or choose how; a step may not set them itself. */
const RESERVED = new Set(['-i', '-protocol_whitelist', '-protocol_blacklist', '-safe', '-reconnect']);

/**
 * Throws when arguments try to open an input or choose its protocols, or (`input`: they are
 * options of the input) its demuxer. After the input, `-f` names an output format.
 */
export function assertNoInputChoice(args: readonly string[], where: string, input: boolean): void {
  const bad = args.find((a) => RESERVED.has(a) || (input && a === '-f'));
  if (bad) throw new Error(`${where} may not contain ${bad}: inputs are opened only through inputArgs()`);
}

/** `-protocol_whitelist … -f <demuxer> -i <location>`, with the location made unambiguous. */
export function inputArgs(input: ForcedInput): string[] {
  const m = /^(https?):\/\//i.exec(input.location);
  if (m) {
    const scheme = m[1]!.toLowerCase();
    const whitelist = scheme === 'https' ? 'https,tls,tcp' : 'http,tcp';
    return ['-protocol_whitelist', whitelist, '-reconnect', '0', '-f', input.demuxer, '-i', input.location];
  }
  // What ffmpeg would read as a protocol name ("concat:", "subfile,", "data:"); a drive letter is not.
  if (/^[a-z0-9+.-]{2,}[:,]/i.test(input.location) && !input.location.startsWith('file:')) {
    throw new Error(`not a local path or an http(s) URL: ${input.location.split(':')[0]}:`);
  }
  // `file:` so that a path with a colon is never read as another protocol.
  const location = input.location.startsWith('file:') ? input.location : `file:${input.location}`;
  return ['-protocol_whitelist', 'file', '-f', input.demuxer, '-i', location];
}

/**
 * The cap for runs on a video that probed as `durationSeconds` at `frameRate`: a file whose
 * header understates its length is cut there instead of keeping a worker busy.
 */
export function capFor(info: { durationSeconds: number; frameRate: number | null }): RunCap {
  const seconds = info.durationSeconds * 1.05 + 2;
  // Without a frame rate, a generous one (the pixel budget at probe bounds the rest).
  const fps = info.frameRate && info.frameRate > 0 ? info.frameRate : 120;
  return { seconds: Math.ceil(seconds * 1000) / 1000, frames: Math.ceil(seconds * fps * 1.1) + 10 };
}
