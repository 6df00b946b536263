import { AppError } from '../errors.ts';
import type { MediaInfo } from '../processing/types.ts';
import {
  type MediaBinaries,
  MediaToolError,
  type RunOptions,
  type RunResult,
  resolveBinaries,
  runFfmpeg,
  runFfprobeJson,
} from './ffmpeg.ts';
import { checkIsoBoxes, type ReadBytes } from './iso-boxes.ts';
import { type FfprobeOutput, interpretProbe, type Limits } from './probe.ts';

/**
 * The one port to media tools: probe a file, run an ffmpeg command with progress. Steps build
 * their commands; this layer owns spawning, thread bounds, cancellation and error meaning.
 */
export interface MediaInput {
  /** A local path or a (signed) URL ffmpeg can read. */
  location: string;
  sizeBytes: number;
  /** Reads a byte range of the file (for sniffing headers without ffmpeg). */
  readBytes: ReadBytes;
}

export interface MediaTools {
  readonly threads: number;
  /** Probes and sanity-decodes the file; throws AppError with a media error code when it is not a usable video. */
  probe(input: MediaInput, signal: AbortSignal): Promise<MediaInfo>;
  /** Runs ffmpeg with these arguments (after the global options). */
  ffmpeg(args: string[], opts: RunOptions): Promise<RunResult>;
}

export interface MediaToolsOptions {
  binaries?: MediaBinaries;
  media: { ffmpegPath: string | undefined; ffprobePath: string | undefined };
  threads: number;
  limits: Limits;
  onCommand?: RunOptions['onCommand'];
}

/** Seconds decoded at the start and again near the end, to catch a good header over bad data. */
const SAMPLE_SECONDS = 2;

export function createMediaTools(opts: MediaToolsOptions): MediaTools {
  const bins = opts.binaries ?? resolveBinaries(opts.media);
  const run = (args: string[], o: RunOptions) =>
    runFfmpeg(bins.ffmpeg, args, { ...o, onCommand: o.onCommand ?? opts.onCommand });

  async function decodeSample(input: MediaInput, info: MediaInfo, fromEnd: boolean, signal: AbortSignal) {
    const seek = fromEnd ? Math.max(0, info.durationSeconds - SAMPLE_SECONDS) : 0;
    return run(
      [
        '-v',
        'error',
        ...(seek > 0 ? ['-ss', seek.toFixed(3)] : []),
        '-t',
        String(SAMPLE_SECONDS),
        '-threads',
        String(opts.threads),
        '-i',
        input.location,
        '-map',
        `0:${info.videoStreamIndex}`,
        '-f',
        'null',
        '-',
      ],
      { signal },
    );
  }

  return {
    threads: opts.threads,
    ffmpeg: run,
    async probe(input, signal) {
      if (input.sizeBytes === 0) {
        throw new AppError(
          'FILE_EMPTY',
          'The uploaded file is empty (0 bytes). Upload the video file itself.',
        );
      }
      const boxes = await checkIsoBoxes(input.readBytes, input.sizeBytes);
      let raw: FfprobeOutput;
      try {
        raw = (await runFfprobeJson(
          bins.ffprobe,
          ['-show_format', '-show_streams', input.location],
          signal,
          opts.onCommand,
        )) as FfprobeOutput;
      } catch (err) {
        if (!(err instanceof MediaToolError) || err.signal) throw err;
        if (boxes === 'truncated') throw truncated();
        if (boxes !== 'not_iso') {
          throw new AppError(
            'CORRUPT_MEDIA',
            'This file starts like an MP4/MOV video, but what follows is not video data. Export it again from its source.',
          );
        }
        throw new AppError('NOT_A_MEDIA_FILE', undefined, { detail: err.stderrTail.slice(-200) });
      }
      // A file cut off after a good header still probes; its boxes show it.
      if (boxes === 'truncated') throw truncated();
      const info = interpretProbe(raw, input.sizeBytes, opts.limits);
      for (const fromEnd of [false, true]) {
        let frames: number;
        try {
          frames = (await decodeSample(input, info, fromEnd, signal)).frames;
        } catch (err) {
          if (!(err instanceof MediaToolError) || err.signal) throw err;
          throw corrupt(fromEnd);
        }
        if (frames === 0) throw corrupt(fromEnd);
      }
      return info;
    },
  };
}

const truncated = () =>
  new AppError(
    'TRUNCATED_MEDIA',
    'This video file ends before its data does: it was cut off (an incomplete copy or download). Upload the complete file.',
  );
const corrupt = (atEnd: boolean) =>
  new AppError(
    'CORRUPT_MEDIA',
    `No picture could be decoded ${atEnd ? 'near the end' : 'at the start'} of this video: the file is damaged. Export it again from its source.`,
  );
