import { type MediaContext, objectUrl } from '../accounts/media-urls.ts';
import type { EnrichmentStatus, VideoStatus } from '../db/types.ts';
import type { VideoEvent } from '../events/video-event.ts';
import { videoError } from '../processing/failure-policy.ts';
import { outputPath } from '../processing/presenter.ts';

/**
 * One video as every reader sees it — library list, detail, batch status and the WebSocket
 * snapshot — so the states they show can never disagree. Built from `VideoStateRow`
 * (repository.ts), which joins the video with its analysis in the same query.
 */
export interface VideoDto {
  id: string;
  name: string;
  status: VideoStatus;
  /** The processing step under way (or where it failed); null otherwise. */
  step: string | null;
  /** 0–100: upload progress while uploading, processing progress while processing. */
  progress: number;
  /** `retryable` says whether POST /api/videos/:id/retry may run it again; else Delete/replace it. */
  error: { code: string; message: string; retryable: boolean } | null;
  projectId: string;
  sessionId: string | null;
  /** Bytes, as declared when the upload session was created. */
  size: number;
  mimeType: string | null;
  durationSeconds: number | null;
  /** URL of the poster image, once the video is ready (short-lived, signed). */
  posterUrl: string | null;
  /**
   * Enrichment after `ready` (storyboard, scenes, silences, loudness, waveform, transcript): its
   * own state, step and progress (0–100); its failure never fails the video. Null before the
   * pipeline first claimed the video.
   */
  analysis: AnalysisState | null;
  /** Seconds the running step still needs at ffmpeg's current speed (a transcode), else null. */
  etaSeconds: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface AnalysisState {
  status: EnrichmentStatus;
  step: string | null;
  progress: number;
  error: { code: string; message: string } | null;
}

/** The columns every video read selects; see `stateColumns` in repository.ts. */
export interface VideoStateRow {
  id: string;
  user_id: string;
  name: string;
  status: VideoStatus;
  project_id: string;
  session_id: string | null;
  declared_size: string;
  mime_type: string | null;
  declared_type: string | null;
  upload_progress: number;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
  updated_at: Date;
  processing_step: string | null;
  overall_progress: number | null;
  analysis_error_code: string | null;
  analysis_error_message: string | null;
  duration_seconds: number | string | null;
  poster_key: string | null;
  enrichment_status: EnrichmentStatus | null;
  enrichment_step: string | null;
  enrichment_progress: number | null;
  enrichment_error_code: string | null;
  enrichment_error_message: string | null;
  eta_seconds: number | null;
}

/** The one definition of a video's enrichment state (`analysis`). */
export function analysisStateOf(row: VideoStateRow): AnalysisState | null {
  if (!row.enrichment_status) return null;
  return {
    status: row.enrichment_status,
    step: row.enrichment_status === 'running' ? row.enrichment_step : null,
    progress: Math.max(0, Math.min(100, Math.round(row.enrichment_progress ?? 0))),
    error:
      row.enrichment_status === 'failed' && row.enrichment_error_code
        ? { code: row.enrichment_error_code, message: row.enrichment_error_message ?? '' }
        : null,
  };
}

/** The one definition of `progress` (0–100, whole numbers). */
export function progressOf(row: VideoStateRow): number {
  const p = (() => {
    switch (row.status) {
      case 'pending_upload':
        return 0;
      case 'uploading':
      case 'canceled':
      case 'upload_expired':
        return row.upload_progress;
      case 'uploaded':
      case 'ready':
        return 100;
      case 'processing':
        return row.overall_progress ?? 0;
      case 'failed':
        return row.processing_step ? (row.overall_progress ?? 0) : row.upload_progress;
    }
  })();
  return Math.max(0, Math.min(100, Math.round(p)));
}

function errorOf(row: VideoStateRow): VideoDto['error'] {
  if (row.error_code) return videoError(row.status, row.error_code, row.error_message);
  if (row.status === 'failed' && row.analysis_error_code) {
    return videoError(row.status, row.analysis_error_code, row.analysis_error_message);
  }
  return null;
}

/** Everything of the DTO that needs no storage call (the live snapshot sends this). */
export function presentVideoState(row: VideoStateRow): Omit<VideoDto, 'posterUrl'> {
  const duration = row.duration_seconds === null ? null : Number(row.duration_seconds);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    step: row.status === 'processing' || row.status === 'failed' ? row.processing_step : null,
    progress: progressOf(row),
    error: errorOf(row),
    projectId: row.project_id,
    sessionId: row.session_id,
    size: Number(row.declared_size),
    mimeType: row.mime_type ?? row.declared_type,
    durationSeconds: duration !== null && Number.isFinite(duration) ? duration : null,
    analysis: analysisStateOf(row),
    etaSeconds: row.status === 'processing' && row.eta_seconds !== null ? Math.round(row.eta_seconds) : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function presentVideo(row: VideoStateRow, ctx: MediaContext): Promise<VideoDto> {
  let posterUrl: string | null = null;
  if (row.status === 'ready' && row.poster_key) {
    const name = row.poster_key.slice(row.poster_key.lastIndexOf('/') + 1);
    posterUrl = await objectUrl(ctx, row.poster_key, outputPath(row.id, name), row.user_id);
  }
  return { ...presentVideoState(row), posterUrl };
}

export const presentVideos = (rows: VideoStateRow[], ctx: MediaContext) =>
  Promise.all(rows.map((r) => presentVideo(r, ctx)));

/** The event that announces a video's current state (rename, or anything read back after a change). */
export function videoEventOf(
  row: VideoStateRow,
  dto: Omit<VideoDto, 'posterUrl'>,
  extra: { name?: string; kind?: VideoEvent['kind'] } = {},
): VideoEvent {
  return {
    videoId: dto.id,
    userId: row.user_id,
    projectId: dto.projectId,
    sessionId: dto.sessionId,
    status: dto.status,
    step: dto.step,
    progress: dto.progress,
    error: dto.error,
    updatedAt: dto.updatedAt,
    analysis: dto.analysis,
    etaSeconds: dto.etaSeconds,
    ...extra,
  };
}
