import * as tus from 'tus-js-client';
import type { ResumeRecord } from './resume-records.ts';
import { resumeRecords } from './resume-records.ts';

/** What one tus upload reports to the queue. */
export interface TusEvents {
  progress: (sent: number) => void;
  /** The server's offset, from a HEAD: where this upload continues. */
  serverOffset: (offset: number) => void;
  /** false: give up (the queue shows the failure or waits for the network). */
  shouldRetry: (attempt: number) => boolean;
  error: (err: Error) => void;
  success: () => void;
}

/**
 * A tus-js-client upload of `file` for the video of `rec`. Its URL and acknowledged offset are
 * saved in the resume record as they become known, so a reload can continue it.
 */
export function createTusUpload(file: File, rec: ResumeRecord, chunkSize: number, on: TusEvents): tus.Upload {
  const upload: tus.Upload = new tus.Upload(file, {
    endpoint: rec.endpoint,
    uploadUrl: rec.uploadUrl,
    metadata: rec.metadata,
    chunkSize,
    retryDelays: backoff(),
    // Authenticated by the session cookie: the endpoint is this app's own origin.
    storeFingerprintForResuming: false,
    onUploadUrlAvailable: () => {
      rec.uploadUrl = upload.url;
      resumeRecords.patch(rec.videoId, { uploadUrl: upload.url });
    },
    onProgress: (sent) => on.progress(sent),
    onAfterResponse: (req, res) => {
      if (req.getMethod() !== 'HEAD') return;
      const offset = Number(res.getHeader('Upload-Offset'));
      if (Number.isFinite(offset)) on.serverOffset(offset);
    },
    onChunkComplete: (_c, accepted) => {
      rec.bytesSent = accepted;
      resumeRecords.patch(rec.videoId, { bytesSent: accepted });
    },
    onShouldRetry: (err, attempt) => {
      if (!navigator.onLine) return false;
      const status = err.originalResponse?.getStatus() ?? 0;
      if (status >= 400 && status < 500 && ![408, 409, 423, 429].includes(status)) return false;
      return on.shouldRetry(attempt);
    },
    onError: (err) => on.error(err),
    onSuccess: () => on.success(),
  });
  return upload;
}

/** 1 s, 2 s, 4 s ... 30 s, each scaled by a random factor in [0.5, 1.5) so clients don't retry in lockstep. */
function backoff(): number[] {
  return [1000, 2000, 4000, 8000, 16000, 30000, 30000].map((d) => Math.round(d * (0.5 + Math.random())));
}

export function reasonOf(err: Error): string {
  const body = (err as tus.DetailedError).originalResponse?.getBody();
  if (body) {
    try {
      const parsed = JSON.parse(body) as { error?: { message?: string } };
      if (parsed.error?.message) return parsed.error.message;
    } catch {
      if (body.length < 200) return body;
    }
  }
  return 'The upload stopped after several attempts. Check your connection and press Retry.';
}
