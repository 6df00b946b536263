import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { bins, ffmpeg } from '../media/fixtures.ts';

/**
 * Hostile files as an attacker with an ordinary account would make them. Each is built for
 * real: the victim's video and the decoys are encoded by ffmpeg, the polyglot is assembled byte
 * by byte the way it fooled both the sniffer and ffmpeg.
 */
const run = promisify(execFile);

/** An HLS media playlist whose one segment is `segment`. */
export function hlsPlaylist(segment: string): string {
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:10',
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXTINF:2.0,',
    segment,
    '#EXT-X-ENDLIST',
    '',
  ].join('\n');
}

/** 8 s of blue MPEG-2 in MPEG-TS at 640x480: the decoy a naive probe would judge the file by. */
export async function makeTsDecoy(dir: string): Promise<Buffer> {
  const out = path.join(dir, 'decoy.ts');
  await ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'color=c=blue:size=640x480:rate=25:duration=8',
    '-c:v',
    'mpeg2video',
    '-f',
    'mpegts',
    out,
  ]);
  return readFile(out);
}

/**
 * ID3 tag + `ftyp` box + HLS playlist + MPEG-TS decoy. The ID3 header sets the footer flag:
 * file-type skips the tag by its size and finds `ftyp` (an "MP4"), ffmpeg adds 10 bytes for the
 * footer and lands on `#EXTM3U` inside the ftyp box (a playlist), and the decoy after it is what
 * a prober that skips the head would see.
 */
export async function makePolyglot(dir: string, segment: string, name = 'trip.mp4'): Promise<string> {
  const payload = Buffer.alloc(6);
  const id3 = Buffer.concat([Buffer.from('ID3\x04\x00\x10', 'latin1'), Buffer.from([0, 0, 0, 6]), payload]);
  const rest = Buffer.from(`is${hlsPlaylist(segment)}`, 'latin1');
  const size = Buffer.alloc(4);
  size.writeUInt32BE(8 + rest.length);
  const head = Buffer.concat([id3, size, Buffer.from('ftyp'), rest]);
  const pad = Buffer.alloc(188 - (head.length % 188), 0x0a);
  const out = path.join(dir, name);
  await writeFile(out, Buffer.concat([head, pad, await makeTsDecoy(dir)]));
  return out;
}

/** The frame checksums of a video's first video stream (decoded), one line per frame. */
export async function frameMd5s(file: string): Promise<string[]> {
  const { stdout } = await run(
    bins.ffmpeg,
    ['-v', 'error', '-f', 'mov', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());
}
