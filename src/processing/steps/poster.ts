import path from 'node:path';
import { capFor } from '../../media/input-args.ts';
import { keys } from '../../storage/object-store.ts';
import { need, type Step, storedMp4 } from './step.ts';

/**
 * The poster and small thumbnails, from a few frames of the normalized (upright) video reached
 * by seeking (a handful of frames decoded, not the whole video): the last step before `ready`.
 * The storyboard comes with the analysis' one decoding pass (analyze.ts). The poster is the candidate frame with the most contrast that is neither black nor blank, so a
 * fade-in or a black first second does not become the picture of the video.
 */
const CANDIDATES = [0.1, 0.3, 0.5, 0.7];
const POSTER_WIDTH = 640;
const THUMB_WIDTH = 160;

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

export const posterStep: Step<'poster'> = async (c) => {
  const m = need(c, 'probe');
  const video = need(c, 'normalize');
  const input = await storedMp4(c.store, video.key);
  const cap = capFor(m);
  const duration = m.durationSeconds;
  const threads = String(c.media.threads);
  const total = CANDIDATES.length;

  // The candidates are independent seeks: run side by side (each decodes a few frames), so the
  // wait for the last step before `ready` is about one seek, not four.
  let finished = 0;
  const candidates = await Promise.all(
    CANDIDATES.map(async (fraction, i) => {
      const at = Math.min(duration * fraction, Math.max(0, duration - 0.1));
      const stats: Partial<FrameStats> = {};
      await c.media.ffmpeg(
        {
          input,
          // The keyframe at or before `at` is picture enough for a candidate: no decoding on
          // from it up to `at` (up to a GOP of frames per seek).
          inputOptions: ['-noaccurate_seek', '-ss', at.toFixed(3), '-threads', threads],
          cap,
          args: [
            '-filter_complex',
            `[0:v]scale=${POSTER_WIDTH}:-2,signalstats,metadata=mode=print,split[p][t];[t]scale=${THUMB_WIDTH}:-2[s]`,
            ...['-map', '[p]', '-frames:v', '1', '-q:v', '3', path.join(c.tmpDir, `poster-${i}.jpg`)],
            ...['-map', '[s]', '-frames:v', '1', '-q:v', '5', path.join(c.tmpDir, `thumb-${i}.jpg`)],
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
      const key = keys.output(c.videoId, `thumb-${i}.jpg`);
      await c.store.putFile(key, path.join(c.tmpDir, `thumb-${i}.jpg`), { contentType: 'image/jpeg' });
      c.onProgress(++finished / total);
      const score = posterScore({ yavg: stats.yavg ?? 0, ylow: stats.ylow ?? 0, yhigh: stats.yhigh ?? 0 });
      return { index: i, score, at, key };
    }),
  );
  // The first of the best (the earlier frame wins a tie, as before).
  const best = candidates.reduce((b, x) => (x.score > b.score ? x : b));
  const thumbnailKeys = candidates.map((x) => x.key);
  const posterKey = keys.output(c.videoId, 'poster.jpg');
  await c.store.putFile(posterKey, path.join(c.tmpDir, `poster-${best.index}.jpg`), {
    contentType: 'image/jpeg',
  });

  c.onProgress(1);
  return { posterKey, posterAt: best.at, thumbnailKeys };
};
