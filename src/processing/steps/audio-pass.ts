import type { Readable } from 'node:stream';
import type { ForcedInput, RunCap } from '../../media/input-args.ts';
import type { MediaTools } from '../../media/media-tools.ts';
import type { Loudness } from '../types.ts';
import { PeakFolder } from './peaks.ts';

/**
 * Enrichment's audio decode: silent ranges (silencedetect), integrated loudness (ebur128) and
 * waveform peaks (low-rate mono samples on stdout, folded into peaks as they stream, so memory
 * stays flat whatever the length). The video stream is not decoded (`-vn`).
 */
export const SILENCE_DB = -50;
export const SILENCE_MIN_SECONDS = 0.5;
export const WAVEFORM_RATE = 4000;
const WAVEFORM_PEAKS = 1000;

export interface AudioFindings {
  silences: Array<{ start: number; end: number }>;
  loudness: Loudness | null;
  peaks: number[];
}

const round = (n: number) => Math.round(n * 1000) / 1000;

export async function audioPass(
  media: MediaTools,
  input: ForcedInput,
  cap: RunCap,
  duration: number,
  signal: AbortSignal,
): Promise<AudioFindings> {
  const silences: Array<{ start: number; end: number }> = [];
  let openSilence: number | undefined;
  const loud: { i?: number; lra?: number; peak?: number } = {};
  let section = '';
  const folder = new PeakFolder(duration * WAVEFORM_RATE, WAVEFORM_PEAKS);
  let drained: Promise<void> = Promise.resolve();
  const graph = [
    `[0:a:0]asplit[a1][a2]`,
    `[a1]silencedetect=noise=${SILENCE_DB}dB:d=${SILENCE_MIN_SECONDS},ebur128=peak=true:framelog=verbose[a]`,
    `[a2]aresample=${WAVEFORM_RATE},pan=mono|c0=c0[w]`,
  ].join(';');
  const args = [
    '-filter_complex',
    graph,
    '-map',
    '[a]',
    '-f',
    'null',
    '-',
    '-map',
    '[w]',
    '-f',
    's16le',
    '-acodec',
    'pcm_s16le',
    'pipe:1',
  ];
  await media.ffmpeg(
    { input, inputOptions: ['-vn', '-threads', '1'], args, cap },
    {
      signal,
      onStdout: (out: Readable) => {
        drained = new Promise((resolve, reject) => {
          out.on('data', (chunk: Buffer) => folder.push(chunk));
          out.on('end', resolve);
          out.on('error', reject);
        });
      },
      onStderrLine: (line) => {
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
    },
  );
  await drained;
  // A silence that lasts to the end is reported without silence_end.
  if (openSilence !== undefined && duration - openSilence >= SILENCE_MIN_SECONDS) {
    silences.push({ start: round(openSilence), end: round(duration) });
  }
  const loudness: Loudness | null =
    loud.i !== undefined && Number.isFinite(loud.i)
      ? {
          integratedLufs: loud.i,
          loudnessRangeLu: loud.lra ?? null,
          truePeakDbfs: loud.peak !== undefined && Number.isFinite(loud.peak) ? loud.peak : null,
        }
      : null;
  return { silences, loudness, peaks: folder.end() };
}
