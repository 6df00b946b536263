import { AppError, ERRORS, type ErrorCode, isAppError } from '../errors.ts';
import { MediaToolError } from '../media/ffmpeg.ts';
import { isStorageFull } from '../storage/full.ts';

/**
 * What a processing failure means: fail now or try again, and what a person is told. People
 * only ever see texts Clipdock wrote (the catalogue's, or an AppError's built from values
 * Clipdock determined); a tool's stderr or an exception's message goes to the log only, because
 * it holds paths, presigned URLs and decoder noise.
 */

export interface PublicError {
  code: string;
  message: string;
  /** Whether asking for the video to run again could end differently (POST /api/videos/:id/retry). */
  retryable: boolean;
}

/** Signals of a tool that crashed on its own (a fault), as opposed to being stopped by us or the OS. */
const CRASH_SIGNALS = new Set<string>(['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE']);
/** One crash may be the machine; the second on the same input is the input. */
export const CRASHES_BEFORE_PERMANENT = 2;

/** Failures the runner does not try again on its own (it would only fail the same way, or too slowly). */
const FINAL_FOR_RUNNER = new Set<string>(['PROCESSING_TIMEOUT', 'PROCESSING_FAILED', 'FILE_EMPTY']);

/**
 * Whether a video that failed with `code` may be run again. A refusal of the file itself (every
 * 415/422 of the catalogue, or an empty file) is final: the same bytes get the same verdict.
 * Failures on our side (storage, timeouts, exhausted retries) may end differently later.
 */
export function isRetryableFailure(code: string | null | undefined): boolean {
  if (!code) return true;
  if (code === 'FILE_EMPTY') return false;
  const entry = (ERRORS as Record<string, readonly [number, string]>)[code];
  return !(entry && (entry[0] === 415 || entry[0] === 422));
}

/** The error object the API and live events show for a failed video. */
export function publicError(code: string, message: string | null | undefined): PublicError {
  const known = (ERRORS as Record<string, readonly [number, string]>)[code];
  return { code, message: message || known?.[1] || ERRORS.INTERNAL[1], retryable: isRetryableFailure(code) };
}

/** The error of a stored video row; `retryable` only for a failed one (nothing else can be retried). */
export function videoError(status: string, code: string | null, message: string | null): PublicError | null {
  if (!code) return null;
  return { code, message: message ?? '', retryable: status === 'failed' && isRetryableFailure(code) };
}

export const isToolCrash = (err: unknown): err is MediaToolError =>
  err instanceof MediaToolError && err.signal !== null && CRASH_SIGNALS.has(err.signal);

export type FailureVerdict =
  | { kind: 'fail'; error: PublicError }
  /** `note` is stored on the analysis while the next attempt waits. */
  | { kind: 'retry'; note: string };

export interface FailureContext {
  /** Attempts including this one. */
  attempts: number;
  maxAttempts: number;
  /** Tool crashes on this input including this failure. */
  crashes: number;
  step: string | null;
}

export function judgeFailure(err: unknown, c: FailureContext): FailureVerdict {
  const where = c.step ? ` in the ${c.step} step` : '';
  if (isToolCrash(err) && c.crashes >= CRASHES_BEFORE_PERMANENT) {
    return { kind: 'fail', error: publicError('MEDIA_TOOL_CRASHED', null) };
  }
  if (isAppError(err) && (!isRetryableFailure(err.code) || FINAL_FOR_RUNNER.has(err.code))) {
    return { kind: 'fail', error: publicError(err.code, err.message) };
  }
  // The storage refused the output for lack of room: retried (space may be freed), and the
  // failure says so rather than blaming the video.
  if (isStorageFull(err)) {
    if (c.attempts < c.maxAttempts) {
      return { kind: 'retry', note: `The server's storage was full${where}; it runs again shortly.` };
    }
    const message = `The server's storage was full when the video was processed (${c.attempts} attempts${where}). Retry once space is freed; the original is kept.`;
    return { kind: 'fail', error: publicError('STORAGE_FULL', message) };
  }
  if (c.attempts >= c.maxAttempts) {
    const message = `Processing failed ${c.attempts} times${where}. Retry later; the original is kept.`;
    return { kind: 'fail', error: publicError('PROCESSING_FAILED', message) };
  }
  return { kind: 'retry', note: `Attempt ${c.attempts} failed${where}; it runs again shortly.` };
}

/** Refuses a retry of a video whose failure is final, saying what to do instead. */
export function assertRetryable(code: string | null): void {
  if (isRetryableFailure(code)) return;
  const reason = (ERRORS as Record<string, readonly [number, string]>)[code as ErrorCode]?.[1];
  throw new AppError(
    'FAILURE_IS_PERMANENT',
    `${ERRORS.FAILURE_IS_PERMANENT[1]}${reason ? ` (${code}: ${reason})` : ''}`,
    { failure: code },
  );
}
