import type { Video, VideoStatus } from './api.ts';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** "12 s left", "3 min left": coarse on purpose, estimates are noisy. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min left`;
  return `${(seconds / 3600).toFixed(1)} h left`;
}

export const STEP_WORDS: Record<string, string> = {
  probe: 'Checking file…',
  validate: 'Checking file…',
  normalize: 'Converting format…',
  transcode: 'Converting format…',
  thumbnails: 'Making thumbnails…',
  poster: 'Making the poster…',
  analyze: 'Analysing scenes…',
  scenes: 'Analysing scenes…',
  transcribe: 'Transcribing…',
  finalize: 'Finishing…',
};

export const STATUS_WORDS: Record<VideoStatus, string> = {
  pending_upload: 'Waiting for upload',
  uploading: 'Uploading',
  uploaded: 'Queued for processing',
  processing: 'Processing',
  ready: 'Ready',
  failed: 'Failed',
  canceled: 'Canceled',
  upload_expired: 'Upload expired',
};

export function stepWords(step: string | null | undefined, status: VideoStatus): string {
  if (status === 'processing' && step)
    return STEP_WORDS[step] ?? `${step[0]!.toUpperCase()}${step.slice(1)}…`;
  if (status === 'processing') return 'Starting…';
  return STATUS_WORDS[status];
}

/** Enrichment's steps, as the status line names them after "Ready · ". */
const ENRICH_WORDS: Record<string, string> = {
  analyze: 'finding scenes',
  transcribe: 'transcribing',
};

/** "1 min left", "25 s left": a conversion's time left from ffmpeg's speed. */
export function etaWords(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s left`;
  return `${Math.round(seconds / 60)} min left`;
}

/**
 * The status line of a video: its step while processing (with the time left of a conversion),
 * and once ready, the enrichment under way: "Ready · finding scenes 40 %".
 */
export function statusWords(v: Pick<Video, 'status' | 'step' | 'analysis' | 'etaSeconds'>): string {
  const base = stepWords(v.step, v.status);
  if (v.status === 'processing') {
    const eta = etaWords(v.etaSeconds);
    return eta ? `${base} ${eta}` : base;
  }
  const a = v.analysis;
  if (v.status !== 'ready' || !a?.status || a.status === 'ready') return base;
  if (a.status === 'failed') return `${base} · analysis failed`;
  if (a.status === 'pending' || !a.step) return `${base} · analysis queued`;
  const step = ENRICH_WORDS[a.step] ?? a.step;
  return `${base} · ${step} ${Math.round(a.progress ?? 0)} %`;
}

/** What a person can do about each failure, by error code. */
export const ERROR_HELP: Record<string, string> = {
  NOT_A_VIDEO: 'The file is not a video. Export it from your camera or editor as MP4 or MOV and upload that.',
  NOT_A_MEDIA_FILE:
    'The file is not a video. Export it from your camera or editor as MP4 or MOV and upload that.',
  IMAGE_NOT_VIDEO: 'This is a still image. Upload a video file instead.',
  NO_VIDEO_STREAM: 'The file has sound but no picture. Upload the file that contains the video track.',
  CORRUPT_MEDIA: 'The file is damaged. Copy it again from its source (camera card, phone) and re-upload it.',
  TRUNCATED_MEDIA:
    'The file ends early, as if a copy was interrupted. Copy it again from its source and re-upload.',
  UNSUPPORTED_CODEC: 'The video uses a codec we cannot decode. Re-export it as H.264 MP4 and upload that.',
  DURATION_TOO_LONG: 'The video is longer than allowed. Trim it into shorter parts and upload those.',
  DIMENSIONS_TOO_LARGE: 'The picture is larger than allowed. Export at 4K or below and upload again.',
  INSUFFICIENT_CREDITS: 'Your account is out of credits. Add credits, then press Retry.',
  STORAGE_QUOTA_EXCEEDED: 'Your storage is full. Delete videos you no longer need, then press Retry.',
  UPLOAD_EXPIRED: 'The upload was not finished in time. Upload the file again.',
  WORK_BUDGET_EXCEEDED:
    'The video is too long for its resolution. Export it shorter or at a lower resolution, delete this one and upload that.',
  MEDIA_TOOL_CRASHED:
    'The converter crashes on this file. Export it again as H.264 MP4, delete this one and upload that.',
};

/** `retryable: false` means running it again cannot help: the way out is a new export. */
export function helpFor(code: string | undefined, retryable = true): string {
  return (
    (code && ERROR_HELP[code]) ??
    (retryable
      ? 'Press Retry to run processing again. If it keeps failing, re-export the file as H.264 MP4.'
      : 'Running this file again would fail the same way. Delete it, then upload a new export (H.264 MP4).')
  );
}
