import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { capFor } from '../../media/input-args.ts';
import { keys } from '../../storage/object-store.ts';
import type { StoryboardIndex } from '../types.ts';
import { type AudioFindings, audioPass, WAVEFORM_RATE } from './audio-pass.ts';
import { need, type Step, storedMp4 } from './step.ts';

/**
 * Enrichment's decoding of the normalized video, once: one video decode finds the storyboard
 * tiles and the scene cuts (select's scene score, logged by showinfo), while one audio decode
 * beside it (audio-pass.ts) finds silences, loudness and waveform peaks. Two ffmpeg runs side by
 * side beat one run with both graphs on this 2-core machine (ffmpeg 5.1 filters on one thread):
 * 5-min 720p, 8.3 s vs 9.1 s, a bare decode 11.2 s; thinning to 10 fps before scaling: 21.8 s
 * instead of 30.5 s, a bare decode 23.0 s (measured 2026-12-02 on a loaded machine).
 */
export const SCENE_THRESHOLD = 0.3;
/** Frames per second the scene score compares: a cut is placed within 1/SCENE_FPS s. */
export const SCENE_FPS = 10;

const TILE_WIDTH = 160;
const MAX_TILES = 100;
const COLUMNS = 10;

export function storyboardLayout(duration: number, width: number, height: number): StoryboardIndex {
  const interval = Math.max(1, Math.ceil((duration / MAX_TILES) * 10) / 10);
  const count = Math.max(1, Math.min(MAX_TILES, Math.ceil(duration / interval)));
  const tileHeight = Math.max(2, Math.round((TILE_WIDTH * height) / width / 2) * 2);
  return {
    interval,
    columns: COLUMNS,
    rows: Math.ceil(count / COLUMNS),
    count,
    tileWidth: TILE_WIDTH,
    tileHeight,
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

export const analyzeStep: Step<'analyze'> = async (c) => {
  const m = need(c, 'probe');
  const video = need(c, 'normalize');
  const input = await storedMp4(c.store, video.key);
  const duration = m.durationSeconds;
  const cap = capFor(m);
  // One run failing stops the other.
  const both = new AbortController();
  const signal = AbortSignal.any([c.signal, both.signal]);
  const stopOnError = <T>(p: Promise<T>) =>
    p.catch((err: unknown) => {
      both.abort(err);
      throw err;
    });

  // The video decode, thinned to SCENE_FPS and scaled down at once to the storyboard's tile
  // size: scene scores and storyboard tiles both read the small picture (ffmpeg 5.1 filters on
  // one thread, so scaling every frame of a 30 fps video would cost more than decoding it). Deblocking is skipped while decoding: it only
  // smooths block edges, invisible at tile size, and costs a good share of an H.264 decode.
  const sb = storyboardLayout(duration, m.width, m.height);
  const sprite = path.join(c.tmpDir, 'storyboard.jpg');
  const scenes: Array<{ start: number }> = [];
  const graph = [
    `[0:v:0]fps=${SCENE_FPS},scale=${sb.tileWidth}:${sb.tileHeight}:flags=fast_bilinear,split[sv][st]`,
    `[sv]select='gt(scene,${SCENE_THRESHOLD})',showinfo[v]`,
    `[st]fps=1/${sb.interval},tile=${sb.columns}x${sb.rows}[sb]`,
  ].join(';');
  const args = ['-filter_complex', graph, '-map', '[v]', '-f', 'null', '-'];
  args.push('-map', '[sb]', '-frames:v', '1', '-q:v', '5', sprite);
  // Frame-threaded H.264 decoding keeps one thread more than cores busy (ffmpeg's own automatic
  // choice, which a bare decode gets); FFMPEG_THREADS sets the cores.
  const decodeThreads = String(c.media.threads + 1);
  const inputOptions = ['-an', '-threads', decodeThreads, '-skip_loop_filter', 'all'];
  const videoRun = c.media.ffmpeg(
    { input, inputOptions, args, cap },
    {
      signal,
      durationSeconds: duration,
      onProgress: c.onProgress,
      onStderrLine: (line) => {
        if (!line.includes('Parsed_showinfo')) return;
        const t = /pts_time:\s*([\d.]+)/.exec(line);
        if (t) scenes.push({ start: round(Number(t[1])) });
      },
    },
  );
  const audioRun: Promise<AudioFindings | null> = video.hasAudio
    ? audioPass(c.media, input, cap, duration, signal)
    : Promise.resolve(null);
  const [, audio] = await Promise.all([stopOnError(videoRun), stopOnError(audioRun)]);

  let waveformKey: string | null = null;
  if (audio) {
    const file = path.join(c.tmpDir, 'waveform.json');
    await writeFile(file, JSON.stringify({ sampleRate: WAVEFORM_RATE, duration, peaks: audio.peaks }));
    waveformKey = keys.output(c.videoId, 'waveform.json');
    await c.store.putFile(waveformKey, file, { contentType: 'application/json' });
  }
  const storyboardKey = keys.output(c.videoId, 'storyboard.jpg');
  await c.store.putFile(storyboardKey, sprite, { contentType: 'image/jpeg' });
  const indexFile = path.join(c.tmpDir, 'storyboard.json');
  await writeFile(indexFile, JSON.stringify(sb));
  const storyboardIndexKey = keys.output(c.videoId, 'storyboard.json');
  await c.store.putFile(storyboardIndexKey, indexFile, { contentType: 'application/json' });
  c.onProgress(1);
  return {
    scenes,
    silences: audio?.silences ?? [],
    loudness: audio?.loudness ?? null,
    waveformKey,
    waveformPeaks: audio?.peaks.length ?? 0,
    storyboardKey,
    storyboardIndexKey,
    storyboard: sb,
  };
};
