import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { capFor } from '../../media/input-args.ts';
import { keys } from '../../storage/object-store.ts';
import type { Loudness, StoryboardIndex } from '../types.ts';
import { PeakFolder } from './peaks.ts';
import { need, type Step, storedMp4 } from './step.ts';

/**
 * Enrichment's one decoding pass over the normalized video: storyboard tiles and scene cuts (select's scene score, logged by
 * showinfo; ffmpeg 4.1 has no scdet), silent ranges (silencedetect), integrated loudness
 * (ebur128) and waveform peaks (low-rate mono samples on stdout, folded into peaks as they stream,
 * so memory stays flat whatever the length).
 */
export const SCENE_THRESHOLD = 0.3;
export const SILENCE_DB = -50;
export const SILENCE_MIN_SECONDS = 0.5;
const WAVEFORM_RATE = 4000;
const WAVEFORM_PEAKS = 1000;

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
  const hasAudio = video.hasAudio;

  const scenes: Array<{ start: number }> = [];
  const silences: Array<{ start: number; end: number }> = [];
  let openSilence: number | undefined;
  const loud: { i?: number; lra?: number; peak?: number } = {};
  let section = '';
  const folder = new PeakFolder(duration * WAVEFORM_RATE, WAVEFORM_PEAKS);
  let drained: Promise<void> = Promise.resolve();

  // One video decode, scaled down at once to the storyboard's tile size: scene scores and
  // storyboard tiles both read the small picture. Deblocking is skipped while decoding: it only
  // smooths block edges, invisible at tile size, and costs a good share of an H.264 decode.
  const sb = storyboardLayout(duration, m.width, m.height);
  const sprite = path.join(c.tmpDir, 'storyboard.jpg');
  const graph = [
    `[0:v:0]scale=${sb.tileWidth}:${sb.tileHeight}:flags=fast_bilinear,split[sv][st]`,
    `[sv]select='gt(scene,${SCENE_THRESHOLD})',showinfo[v]`,
    `[st]fps=1/${sb.interval},tile=${sb.columns}x${sb.rows}[sb]`,
    ...(hasAudio
      ? [
          `[0:a:0]asplit[a1][a2]`,
          `[a1]silencedetect=noise=${SILENCE_DB}dB:d=${SILENCE_MIN_SECONDS},ebur128=peak=true:framelog=verbose[a]`,
          `[a2]aresample=${WAVEFORM_RATE},pan=mono|c0=c0[w]`,
        ]
      : []),
  ].join(';');
  const args = [
    '-filter_complex',
    graph,
    '-map',
    '[v]',
    ...(hasAudio ? ['-map', '[a]'] : []),
    '-f',
    'null',
    '-',
    '-map',
    '[sb]',
    '-frames:v',
    '1',
    '-q:v',
    '5',
    sprite,
    ...(hasAudio ? ['-map', '[w]', '-f', 's16le', '-acodec', 'pcm_s16le', 'pipe:1'] : []),
  ];
  const inputOptions = ['-threads', String(c.media.threads), '-skip_loop_filter', 'all'];
  const job = { input, inputOptions, args, cap: capFor(m) };
  await c.media.ffmpeg(job, {
    signal: c.signal,
    durationSeconds: duration,
    onProgress: c.onProgress,
    onStdout: hasAudio
      ? (out: Readable) => {
          drained = new Promise((resolve, reject) => {
            out.on('data', (chunk: Buffer) => folder.push(chunk));
            out.on('end', resolve);
            out.on('error', reject);
          });
        }
      : undefined,
    onStderrLine: (line) => {
      if (line.includes('Parsed_showinfo')) {
        const t = /pts_time:\s*([\d.]+)/.exec(line);
        if (t) scenes.push({ start: round(Number(t[1])) });
        return;
      }
      const ss = /silence_start:\s*(-?[\d.]+)/.exec(line);
      if (ss) openSilence = Math.max(0, Number(ss[1]));
      const se = /silence_end:\s*([\d.]+)/.exec(line);
      if (se && openSilence !== undefined) {
        silences.push({ start: round(openSilence), end: round(Number(se[1])) });
        openSilence = undefined;
      }
      // ebur128's summary: "Integrated loudness:" / "Loudness range:" / "True peak:" sections.
      if (/Integrated loudness:/.test(line)) section = 'i';
      else if (/Loudness range:/.test(line)) section = 'lra';
      else if (/True peak:/.test(line)) section = 'peak';
      const i = /^\s*I:\s*(-?[\d.]+|-inf) LUFS/.exec(line);
      if (i && section === 'i') loud.i = Number(i[1]);
      const lra = /^\s*LRA:\s*(-?[\d.]+) LU/.exec(line);
      if (lra && section === 'lra') loud.lra = Number(lra[1]);
      const pk = /^\s*Peak:\s*(-?[\d.]+|-inf) dBFS/.exec(line);
      if (pk && section === 'peak') loud.peak = Number(pk[1]);
    },
  });
  await drained;
  // A silence that lasts to the end is reported without silence_end.
  if (openSilence !== undefined && duration - openSilence >= SILENCE_MIN_SECONDS) {
    silences.push({ start: round(openSilence), end: round(duration) });
  }

  let waveformKey: string | null = null;
  let waveformPeaks = 0;
  if (hasAudio) {
    const peaks = folder.end();
    const file = path.join(c.tmpDir, 'waveform.json');
    await writeFile(file, JSON.stringify({ sampleRate: WAVEFORM_RATE, duration, peaks }));
    waveformKey = keys.output(c.videoId, 'waveform.json');
    await c.store.putFile(waveformKey, file, { contentType: 'application/json' });
    waveformPeaks = peaks.length;
  }
  const loudness: Loudness | null =
    hasAudio && loud.i !== undefined && Number.isFinite(loud.i)
      ? {
          integratedLufs: loud.i,
          loudnessRangeLu: loud.lra ?? null,
          truePeakDbfs: loud.peak !== undefined && Number.isFinite(loud.peak) ? loud.peak : null,
        }
      : null;
  const storyboardKey = keys.output(c.videoId, 'storyboard.jpg');
  await c.store.putFile(storyboardKey, sprite, { contentType: 'image/jpeg' });
  const indexFile = path.join(c.tmpDir, 'storyboard.json');
  await writeFile(indexFile, JSON.stringify(sb));
  const storyboardIndexKey = keys.output(c.videoId, 'storyboard.json');
  await c.store.putFile(storyboardIndexKey, indexFile, { contentType: 'application/json' });
  c.onProgress(1);
  return {
    scenes,
    silences,
    loudness,
    waveformKey,
    waveformPeaks,
    storyboardKey,
    storyboardIndexKey,
    storyboard: sb,
  };
};
