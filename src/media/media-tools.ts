import { AppError } from '../errors.ts';
import type { MediaInfo } from '../processing/types.ts';
import { ambiguousMessage, DETECT_BYTES, type Demuxer, detectContainer, formatAgrees } from './container.ts';
import {
  type MediaBinaries,
  MediaToolError,
  type RunOptions,
  type RunResult,
  resolveBinaries,
  runFfmpeg,
  runFfprobeJson,
} from './ffmpeg.ts';
import { assertNoInputChoice, capFor, type ForcedInput, inputArgs, type RunCap } from './input-args.ts';
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

/**
 * One ffmpeg run on user data: exactly one input, opened with the demuxer detection chose and
 * only the protocols it needs (inputArgs), read no further than `cap`.
 */
export interface FfmpegJob {
  input: ForcedInput;
  /** Options for the input (-ss, -threads, -t); never -i, -f or protocol options. */
  inputOptions?: string[];
  /** Everything after the input: maps, filters, outputs; never another -i. */
  args: string[];
  /** How far the input may be read (as input -t, unless inputOptions sets -t). */
  cap: RunCap;
}

export interface MediaTools {
  readonly threads: number;
  /**
   * Detects the container, probes with it forced and sanity-decodes the file; throws AppError
   * with a media error code when it is not a usable video.
   */
  probe(input: MediaInput, signal: AbortSignal): Promise<MediaInfo>;
  /** Runs ffmpeg on one forced input. There is no other way to give ffmpeg user data. */
  ffmpeg(job: FfmpegJob, opts: RunOptions): Promise<RunResult>;
}

/** The command line of a job, after ffmpeg's global options. */
export function jobArgs(job: FfmpegJob): string[] {
  const before = job.inputOptions ?? [];
  assertNoInputChoice(before, 'inputOptions', true);
  assertNoInputChoice(job.args, 'args', false);
  return [
    ...before,
    ...(before.includes('-t') ? [] : ['-t', String(job.cap.seconds)]),
    ...inputArgs(job.input),
    ...job.args,
  ];
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
  const run = (job: FfmpegJob, o: RunOptions) =>
    runFfmpeg(bins.ffmpeg, jobArgs(job), { ...o, onCommand: o.onCommand ?? opts.onCommand });

  async function decodeSample(forced: ForcedInput, info: MediaInfo, fromEnd: boolean, signal: AbortSignal) {
    const seek = fromEnd ? Math.max(0, info.durationSeconds - SAMPLE_SECONDS) : 0;
    const cap = capFor({ durationSeconds: SAMPLE_SECONDS, frameRate: info.frameRate });
    return run(
      {
        input: forced,
        inputOptions: [
          '-v',
          'error',
          ...(seek > 0 ? ['-ss', seek.toFixed(3)] : []),
          '-t',
          String(SAMPLE_SECONDS),
          '-threads',
          String(opts.threads),
        ],
        args: ['-map', `0:${info.videoStreamIndex}`, '-frames:v', String(cap.frames), '-f', 'null', '-'],
        cap,
      },
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
      const demuxer = await detectDemuxer(input);
      const forced: ForcedInput = { location: input.location, demuxer };
      const boxes = await checkIsoBoxes(input.readBytes, input.sizeBytes);
      let raw: FfprobeOutput;
      try {
        raw = (await runFfprobeJson(
          bins.ffprobe,
          ['-show_format', '-show_streams', ...inputArgs(forced)],
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
      if (!formatAgrees(demuxer, raw.format?.format_name)) {
        throw new AppError(
          'AMBIGUOUS_MEDIA',
          `This file starts like a "${demuxer}" container, but the probe read it as "${raw.format?.format_name ?? 'nothing'}". Export the video again from its source and upload that file.`,
        );
      }
      const info: MediaInfo = { ...interpretProbe(raw, input.sizeBytes, opts.limits), demuxer };
      for (const fromEnd of [false, true]) {
        let frames: number;
        try {
          frames = (await decodeSample(forced, info, fromEnd, signal)).frames;
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

/**
 * The container of a stored original, by Clipdock's own detection on its head, or a refusal
 * with the code a person can act on.
 */
export async function detectDemuxer(input: MediaInput): Promise<Demuxer> {
  const head = await input.readBytes(0, Math.min(input.sizeBytes, DETECT_BYTES) - 1);
  const d = await detectContainer(head, input.sizeBytes <= DETECT_BYTES);
  if (d.kind === 'video') return d.container.demuxer;
  if (d.kind === 'ambiguous') throw new AppError('AMBIGUOUS_MEDIA', ambiguousMessage(d));
  if (d.kind === 'not_video' && d.category === 'image') {
    throw new AppError(
      'IMAGE_NOT_VIDEO',
      `This file is ${d.looksLike}, not a video. Upload a video file (MP4, MOV, WebM, ...).`,
    );
  }
  if (d.kind === 'not_video' && d.category === 'audio') {
    throw new AppError(
      'NO_VIDEO_STREAM',
      `This file is ${d.looksLike}: it holds no video picture. Upload a file that contains video.`,
    );
  }
  const looksLike = d.kind === 'not_video' ? d.looksLike : 'data of an unknown kind';
  throw new AppError(
    'NOT_A_MEDIA_FILE',
    `This file is ${looksLike}, not a video, whatever its name says. Upload the video file itself (MP4, MOV, WebM, MKV, ...).`,
  );
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
