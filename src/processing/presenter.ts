import { type MediaContext, objectUrl } from '../accounts/media-urls.ts';
import type { AnalysisRow, EnrichmentStatus, VideoStatus } from '../db/types.ts';
import type {
  Checkpoint,
  Loudness,
  MediaInfo,
  NormalizeMode,
  StoredOutputs,
  StoredResults,
  StoryboardIndex,
  TranscriptResult,
} from './types.ts';

/**
 * The public shape of a video's analysis and outputs (`GET /api/videos/:id`). Fields are null
 * until the step that finds them has run. Signatures are stable: the videos routes call these.
 */
export interface PresentedAnalysis {
  durationSeconds: number | null;
  width: number | null;
  height: number | null;
  rotation: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
  pixelFormat: string | null;
  frameRate: number | null;
  bitRate: number | null;
  audioChannels: number | null;
  audioLayout: string | null;
  container: string | null;
  conversion: NormalizeMode | null;
  scenes: Array<{ start: number }>;
  silences: Array<{ start: number; end: number }>;
  loudness: Loudness | null;
  waveform: { peaks: number } | null;
  storyboard: StoryboardIndex | null;
  posterAt: number | null;
  transcript: TranscriptResult | { status: 'pending' };
  /**
   * Enrichment's state (issue 10). Once the video is ready, `step`, `progress` and `error` are
   * enrichment's; before, they are those of the steps towards `ready`.
   */
  status: EnrichmentStatus;
  /** Seconds the running step still needs at ffmpeg's speed (transcodes), else null. */
  etaSeconds: number | null;
  step: string | null;
  stepProgress: number;
  progress: number;
  attempts: number;
  retryAfter: string | null;
  error: { code: string; message: string } | null;
  startedAt: string | null;
  completedAt: string | null;
  /** Steps whose results are stored (a resumed run skips them). */
  completedSteps: string[];
}

export interface PresentedOutputs {
  video: string | null;
  poster: string | null;
  storyboard: string | null;
  storyboardIndex: string | null;
  thumbnails: string[];
  waveform: string | null;
  transcript: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function presentAnalysis(
  row: AnalysisRow | undefined,
  videoStatus?: VideoStatus,
): PresentedAnalysis | null {
  if (!row) return null;
  const enriching = videoStatus === 'ready';
  const enrichError = row.enrichment_error_code
    ? { code: row.enrichment_error_code, message: row.enrichment_error_message ?? '' }
    : null;
  const m = (row.metadata ?? null) as MediaInfo | null;
  const r = (row.results ?? {}) as StoredResults;
  const cp = (row.checkpoint ?? {}) as Partial<Checkpoint>;
  return {
    durationSeconds: m?.durationSeconds ?? null,
    width: m?.width ?? null,
    height: m?.height ?? null,
    rotation: m?.rotation ?? null,
    videoCodec: m?.videoCodec ?? null,
    audioCodec: m?.audio?.codec ?? null,
    pixelFormat: m?.pixelFormat ?? null,
    frameRate: m?.frameRate ?? null,
    bitRate: m?.bitRate ?? null,
    audioChannels: m?.audio?.channels ?? null,
    audioLayout: m?.audio?.channelLayout ?? null,
    container: m?.container ?? null,
    conversion: r.normalize?.mode ?? null,
    scenes: r.scenes ?? [],
    silences: r.silences ?? [],
    loudness: r.loudness ?? null,
    waveform: r.waveformPeaks ? { peaks: r.waveformPeaks } : null,
    storyboard: r.storyboard ?? null,
    posterAt: r.posterAt ?? null,
    transcript: r.transcript ?? { status: 'pending' },
    status: row.enrichment_status,
    etaSeconds: !enriching && row.eta_seconds !== null ? Math.round(row.eta_seconds) : null,
    step: enriching
      ? row.enrichment_status === 'running'
        ? row.enrichment_step
        : null
      : row.processing_step,
    stepProgress: enriching
      ? row.enrichment_status === 'running'
        ? row.step_progress
        : 100
      : row.step_progress,
    progress: enriching ? Math.round(row.enrichment_progress) : row.overall_progress,
    attempts: row.attempts,
    retryAfter: iso(row.retry_after),
    error: enriching
      ? enrichError
      : row.error_code
        ? { code: row.error_code, message: row.error_message ?? '' }
        : null,
    startedAt: iso(row.started_at),
    completedAt: iso(row.completed_at),
    completedSteps: Object.keys(cp.done ?? {}),
  };
}

/** The API path that serves one output to its owner (HTTP Range); handed out signed (media-urls.ts). */
export const outputPath = (videoId: string, name: string) =>
  `/api/videos/${encodeURIComponent(videoId)}/outputs/${name}`;

/**
 * URLs of the stored outputs, or null before the converted video exists: short-lived signed URLs
 * a media element loads without headers. On S3 the browser fetches the bucket directly; on disk,
 * signed API paths served with Range.
 */
export async function presentOutputs(
  ctx: MediaContext,
  userId: string,
  videoId: string,
  row: AnalysisRow | undefined,
): Promise<PresentedOutputs | null> {
  const o = (row?.outputs ?? {}) as StoredOutputs;
  if (!o.video) return null;
  const url = async (key: string | undefined): Promise<string | null> =>
    key ? objectUrl(ctx, key, outputPath(videoId, key.slice(key.lastIndexOf('/') + 1)), userId) : null;
  return {
    video: await url(o.video),
    poster: await url(o.poster),
    storyboard: await url(o.storyboard),
    storyboardIndex: await url(o.storyboardIndex),
    thumbnails: (await Promise.all((o.thumbnails ?? []).map(url))).filter((u): u is string => u !== null),
    waveform: await url(o.waveform),
    transcript: await url(o.transcript),
  };
}
