import type { Demuxer } from '../media/container.ts';

/**
 * What the pipeline stores in `video_analysis`. The jsonb columns hold exactly these shapes;
 * `presenter.ts` turns them into the public `analysis` and `outputs` objects.
 */

/** What probe learned about the original; stored in `video_analysis.metadata`. */
export interface MediaInfo {
  /** ffprobe's format_name. */
  container: string;
  /**
   * The demuxer Clipdock's detection chose, forced on every later run. Absent only in results
   * stored before detection existed (steps then detect again).
   */
  demuxer?: Demuxer;
  sizeBytes: number;
  durationSeconds: number;
  /** As displayed: pixel aspect ratio and rotation applied. */
  width: number;
  height: number;
  /** As stored in the stream, before rotation. */
  codedWidth: number;
  codedHeight: number;
  /**
   * Width ÷ height of one stored pixel: 1 for square pixels; e.g. 16/11 for a 16:9 DVD at 352×288,
   * 4/3 for 1440×1080 AVCHD. Absent in rows probed before it was recorded (read as 1).
   */
  sampleAspectRatio?: number;
  /** Stored as fields (1080i camcorders, broadcast SD): the output must be deinterlaced. */
  interlaced?: boolean;
  /** Clockwise degrees a player must turn the picture: 0, 90, 180 or 270. */
  rotation: number;
  videoCodec: string;
  videoProfile: string | null;
  pixelFormat: string | null;
  bitDepth: number;
  frameRate: number | null;
  variableFrameRate: boolean;
  bitRate: number | null;
  /** ffprobe's index of the video stream to use (first one that is not cover art). */
  videoStreamIndex: number;
  audio: {
    codec: string;
    channels: number;
    channelLayout: string | null;
    sampleRate: number | null;
    streamIndex: number;
  } | null;
  audioStreamCount: number;
}

export const STEP_NAMES = ['probe', 'normalize', 'poster', 'analyze', 'transcribe'] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** The steps up to `ready`: after them the video is playable (MP4 + poster) and charged. */
export const PLAYABLE_STEPS = ['probe', 'normalize', 'poster'] as const satisfies readonly StepName[];
/** Enrichment: runs while the video is already `ready`; its failure never fails the video. */
export const ENRICH_STEPS = ['analyze', 'transcribe'] as const satisfies readonly StepName[];
export type EnrichStepName = (typeof ENRICH_STEPS)[number];
export const isEnrichStep = (s: string): s is EnrichStepName =>
  (ENRICH_STEPS as readonly string[]).includes(s);

/**
 * Share of its phase's progress each step stands for: the playable steps sum to 100 (the video's
 * `progress`), the enrichment steps too (`analysis.progress`).
 */
export const STEP_WEIGHTS: Record<StepName, number> = {
  probe: 5,
  normalize: 85,
  poster: 10,
  analyze: 85,
  transcribe: 15,
};

export type NormalizeMode = 'remux' | 'audio' | 'transcode';

export interface NormalizeOutput {
  mode: NormalizeMode;
  key: string;
  sizeBytes: number;
  durationSeconds: number;
  hasAudio: boolean;
}

export interface StoryboardIndex {
  /** Seconds between two tiles; tile i shows the picture at i * interval. */
  interval: number;
  columns: number;
  rows: number;
  count: number;
  tileWidth: number;
  tileHeight: number;
}

/** The poster (best of a few candidate frames, found by seeking) and small thumbnails of them. */
export interface PosterOutput {
  posterKey: string;
  posterAt: number;
  thumbnailKeys: string[];
}

export interface Loudness {
  integratedLufs: number;
  loudnessRangeLu: number | null;
  truePeakDbfs: number | null;
}

export interface AnalyzeOutput {
  scenes: Array<{ start: number }>;
  silences: Array<{ start: number; end: number }>;
  loudness: Loudness | null;
  waveformKey: string | null;
  waveformPeaks: number;
  storyboardKey: string;
  storyboardIndexKey: string;
  storyboard: StoryboardIndex;
}

export type TranscriptResult =
  | { status: 'skipped'; reason: string }
  | { status: 'no_audio'; reason: string }
  | { status: 'failed'; provider: string; reason: string }
  | {
      status: 'completed';
      provider: string;
      providerId: string;
      language: string | null;
      words: number;
      textPreview: string;
      key: string;
    };

export interface StepOutputs {
  probe: MediaInfo;
  normalize: NormalizeOutput;
  poster: PosterOutput;
  analyze: AnalyzeOutput;
  transcribe: TranscriptResult;
}

/** `video_analysis.checkpoint`: each finished step's output, and how often each step was started. */
export interface Checkpoint {
  done: Partial<StepOutputs>;
  /** Starts of each step (counted before it runs). */
  runs: Partial<Record<StepName, number>>;
  /**
   * Starts that ended in this process with an error (recorded by the runner). A start neither
   * done nor ended is one whose worker stopped (killed, out of memory, the machine went down).
   */
  ended?: Partial<Record<StepName, number>>;
  /** Set by a re-analysis of a ready video, so a resumed run (even without the job's flag) knows it. */
  reprocess?: boolean;
}

/** `video_analysis.outputs`: storage keys of what the pipeline wrote. */
export interface StoredOutputs {
  video?: string;
  poster?: string;
  thumbnails?: string[];
  storyboard?: string;
  storyboardIndex?: string;
  waveform?: string;
  transcript?: string;
}

/** Every storage key a video's outputs record (absent ones skipped). */
export function outputKeys(o: StoredOutputs): string[] {
  const keys = [o.video, o.poster, o.storyboard, o.storyboardIndex, o.waveform, o.transcript];
  return [...keys, ...(o.thumbnails ?? [])].filter((k): k is string => typeof k === 'string');
}

/** `video_analysis.results`. */
export interface StoredResults {
  normalize?: { mode: NormalizeMode };
  scenes?: Array<{ start: number }>;
  silences?: Array<{ start: number; end: number }>;
  loudness?: Loudness | null;
  waveformPeaks?: number;
  storyboard?: StoryboardIndex;
  posterAt?: number;
  transcript?: TranscriptResult;
}

/** Output file names a client may ask for at `/api/videos/:id/outputs/:name`. */
export const OUTPUT_NAMES =
  /^(video\.mp4|poster\.jpg|thumb-\d{1,2}\.jpg|storyboard\.jpg|storyboard\.json|waveform\.json|transcript\.json)$/;
