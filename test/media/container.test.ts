import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETECT_BYTES, type Detection, detectContainer, formatAgrees } from '../../src/media/container.ts';
import { hlsPlaylist } from '../security/hostile-media.ts';
import { A, CASES } from './container-samples.ts';
import { ffmpeg, ffprobe } from './fixtures.ts';

/**
 * Container detection on real files of every accepted container (made here by ffmpeg), and on
 * the files that must never reach ffmpeg's own guessing: playlists, concat lists, polyglots.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-container-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ascii4 = (b: Buffer) => b.toString('latin1', 4, 8);

async function detectFile(file: string): Promise<Detection> {
  const bytes = await readFile(file);
  return detectContainer(bytes.subarray(0, DETECT_BYTES), bytes.length <= DETECT_BYTES);
}

describe('container detection', () => {
  for (const c of CASES) {
    it(`detects ${c.file} as ${c.id} (${c.demuxer}), and ffprobe agrees with that demuxer forced`, async () => {
      const file = path.join(dir, c.file);
      await ffmpeg([...c.args, file]);
      const d = await detectFile(file);
      expect(d).toMatchObject({ kind: 'video', container: { id: c.id, demuxer: c.demuxer, mime: c.mime } });
      const probed = await ffprobe(file);
      expect(formatAgrees(c.demuxer as never, probed.format.format_name)).toBe(true);
    });
  }

  it('detects a QuickTime file that starts without ftyp (an older camera layout)', async () => {
    const mov = await readFile(path.join(dir, 'a.mov'));
    const bare = path.join(dir, 'bare.mov');
    await writeFile(bare, mov.subarray(mov.readUInt32BE(0)));
    expect(ascii4(await readFile(bare))).not.toBe('ftyp');
    expect(await detectFile(bare)).toMatchObject({ kind: 'video', container: { id: 'mov', demuxer: 'mov' } });
    expect(formatAgrees('mov', (await ffprobe(bare)).format.format_name)).toBe(true);
  });

  it('refuses an ID3 tag in front of an MP4, and says what hides behind it', async () => {
    const mp4 = await readFile(path.join(dir, 'a.mp4'));
    const id3 = Buffer.concat([Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x04', 'latin1'), Buffer.alloc(4)]);
    const d = await detectContainer(Buffer.concat([id3, mp4]).subarray(0, DETECT_BYTES), false);
    expect(d).toMatchObject({ kind: 'ambiguous', container: { demuxer: 'mov' } });
    expect((d as { also: string }).also).toMatch(/ID3/);
  });

  it('refuses a real MP4 with a playlist, a concat list or HTML anywhere in its head', async () => {
    const mp4 = await readFile(path.join(dir, 'a.mp4'));
    for (const [text, also] of [
      [hlsPlaylist('../x/video.mp4'), 'HLS playlist'],
      ['ffconcat version 1.0\nfile a.mp4\n', 'concat list'],
      ['<html><script>alert(1)</script>', 'HTML page'],
      ['v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nm=video 5004 RTP/AVP 96\n', 'SDP'],
    ] as const) {
      const at = Math.min(mp4.length, 40_000);
      const poly = Buffer.concat([mp4.subarray(0, at), Buffer.from(text), mp4.subarray(at)]);
      const d = await detectContainer(poly.subarray(0, DETECT_BYTES), poly.length <= DETECT_BYTES);
      expect(d.kind, also).toBe('ambiguous');
      expect((d as { also: string }).also).toMatch(new RegExp(also));
    }
  });

  it('refuses plain playlists, concat lists, manifests and non-videos, naming them', async () => {
    const cases: Array<[string | Buffer, RegExp, string]> = [
      [hlsPlaylist('seg.ts'), /HLS playlist/, 'playlist'],
      ['ffconcat version 1.0\nfile clip.mp4\n', /concat list/, 'playlist'],
      ['<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"></MPD>', /DASH/, 'playlist'],
      [Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'), /PNG/, 'image'],
      [
        Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'), Buffer.alloc(64)]),
        /WAV/,
        'audio',
      ],
      ['Shopping list\n- milk\n', /text file/, 'other'],
    ];
    for (const [content, looksLike, category] of cases) {
      const d = await detectContainer(Buffer.from(content), true);
      expect(d).toMatchObject({ kind: 'not_video', category });
      expect((d as { looksLike: string }).looksLike).toMatch(looksLike);
    }
  });

  it('calls audio-only MP4 and Ogg files audio', async () => {
    const m4a = path.join(dir, 'a.m4a');
    await ffmpeg([...A, '-c:a', 'aac', m4a]);
    expect(await detectFile(m4a)).toMatchObject({ kind: 'not_video', category: 'audio' });
    const oga = path.join(dir, 'a.oga');
    await ffmpeg([...A, '-c:a', 'libvorbis', '-f', 'ogg', oga]);
    expect(await detectFile(oga)).toMatchObject({ kind: 'not_video', category: 'audio' });
  });

  it('waits for the whole window before a video verdict, but refuses what the start proves', async () => {
    const mp4 = await readFile(path.join(dir, 'a.mp4'));
    expect(await detectContainer(mp4.subarray(0, 1000), false)).toEqual({ kind: 'undetermined' });
    expect(await detectContainer(Buffer.from('just some text'), false)).toEqual({ kind: 'undetermined' });
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    expect(await detectContainer(png, false)).toMatchObject({ kind: 'not_video', category: 'image' });
  });
});
