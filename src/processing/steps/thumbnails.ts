import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { capFor } from '../../media/input-args.ts';
import { keys } from '../../storage/object-store.ts';
import type { StoryboardIndex } from '../types.ts';
import { need, type Step, storedMp4 } from './step.ts';

/**
 * Poster, small thumbnails and a storyboard sprite, all from the normalized (upright) video.
 * The poster is the candidate frame with the most contrast that is neither black nor blank, so a
 * fade-in or a black first second does not become the picture of the video.
 */
const CANDIDATES = [0.1, 0.3, 0.5, 0.7];
const POSTER_WIDTH = 640;
const THUMB_WIDTH = 160;
const TILE_WIDTH = 160;
const MAX_TILES = 100;
const COLUMNS = 10;

interface FrameStats {
  yavg: number;
  ylow: number;
  yhigh: number;
}

/** Contrast of a frame, or -1 when it is (nearly) black or blank. */
export function posterScore(s: FrameStats): number {
  const spread = s.yhigh - s.ylow;
  if (s.yavg < 24 || s.yavg > 235 || spread < 8) return spread - 1000;
  return spread;
}

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

export const thumbnailsStep: Step<'thumbnails'> = async (c) => {
  const m = need(c, 'probe');
  const video = need(c, 'normalize');
  const input = await storedMp4(c.store, video.key);
  const cap = capFor(m);
  const duration = m.durationSeconds;
  const threads = String(c.media.threads);
  const total = CANDIDATES.length + 1;

  let best = { index: 0, score: Number.NEGATIVE_INFINITY, at: 0 };
  const thumbnailKeys: string[] = [];
  for (const [i, fraction] of CANDIDATES.entries()) {
    const at = Math.min(duration * fraction, Math.max(0, duration - 0.1));
    const stats: Partial<FrameStats> = {};
    await c.media.ffmpeg(
      {
        input,
        inputOptions: ['-ss', at.toFixed(3), '-threads', threads],
        cap,
        args: [
          '-filter_complex',
          `[0:v]scale=${POSTER_WIDTH}:-2,signalstats,metadata=mode=print,split[p][t];[t]scale=${THUMB_WIDTH}:-2[s]`,
          '-map',
          '[p]',
          '-frames:v',
          '1',
          '-q:v',
          '3',
          path.join(c.tmpDir, `poster-${i}.jpg`),
          '-map',
          '[s]',
          '-frames:v',
          '1',
          '-q:v',
          '5',
          path.join(c.tmpDir, `thumb-${i}.jpg`),
        ],
      },
      {
        signal: c.signal,
        onStderrLine: (line) => {
          const hit = /lavfi\.signalstats\.(YAVG|YLOW|YHIGH)=([\d.]+)/.exec(line);
          if (hit) stats[hit[1]!.toLowerCase() as keyof FrameStats] = Number(hit[2]);
        },
      },
    );
    const score = posterScore({ yavg: stats.yavg ?? 0, ylow: stats.ylow ?? 0, yhigh: stats.yhigh ?? 0 });
    if (score > best.score) best = { index: i, score, at };
    const key = keys.output(c.videoId, `thumb-${i}.jpg`);
    await c.store.putFile(key, path.join(c.tmpDir, `thumb-${i}.jpg`), { contentType: 'image/jpeg' });
    thumbnailKeys.push(key);
    c.onProgress((i + 1) / total);
  }
  const posterKey = keys.output(c.videoId, 'poster.jpg');
  await c.store.putFile(posterKey, path.join(c.tmpDir, `poster-${best.index}.jpg`), {
    contentType: 'image/jpeg',
  });

  const sb = storyboardLayout(duration, m.width, m.height);
  const sprite = path.join(c.tmpDir, 'storyboard.jpg');
  await c.media.ffmpeg(
    {
      input,
      inputOptions: ['-threads', threads],
      cap,
      args: [
        '-map',
        '0:v:0',
        '-vf',
        `fps=1/${sb.interval},scale=${sb.tileWidth}:${sb.tileHeight},tile=${COLUMNS}x${sb.rows}`,
        '-frames:v',
        '1',
        '-q:v',
        '5',
        sprite,
      ],
    },
    {
      signal: c.signal,
      durationSeconds: duration,
      onProgress: (f) => c.onProgress((CANDIDATES.length + f) / total),
    },
  );
  const storyboardKey = keys.output(c.videoId, 'storyboard.jpg');
  await c.store.putFile(storyboardKey, sprite, { contentType: 'image/jpeg' });
  const indexFile = path.join(c.tmpDir, 'storyboard.json');
  await writeFile(indexFile, JSON.stringify(sb));
  const storyboardIndexKey = keys.output(c.videoId, 'storyboard.json');
  await c.store.putFile(storyboardIndexKey, indexFile, { contentType: 'application/json' });
  c.onProgress(1);
  return { posterKey, posterAt: best.at, thumbnailKeys, storyboardKey, storyboardIndexKey, storyboard: sb };
};
