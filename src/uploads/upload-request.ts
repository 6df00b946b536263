import { AsyncLocalStorage } from 'node:async_hooks';
import type { AppContext } from '../context.ts';
import type { VideoRow } from '../db/types.ts';
import { AppError, type ErrorCode } from '../errors.ts';
import { finishUpload, UploadRefusedError } from './finish.ts';

/** The per-request context of a tus request, and errors in the shape tus renders. */

/** What the HTTP layer already knows about the request: set per request, never shared. */
export interface UploadRequestContext {
  /** The caller's video, as read by the route's ownership check. */
  video: VideoRow;
  /**
   * The request is a PATCH: tus needs only the offset, size and creation date of the upload, all
   * of which the video row and the partial file's size tell (no sidecar read).
   */
  patch?: boolean;
}
export const uploadRequest = new AsyncLocalStorage<UploadRequestContext>();

/** An error in the shape tus renders ({status_code, body}), with our JSON error body. */
export function tusError(code: ErrorCode, message?: string): { status_code: number; body: string } {
  const err = new AppError(code, message);
  return { status_code: err.status, body: JSON.stringify({ error: { code, message: err.message } }) };
}

/** finishUpload, with a refusal of the stored bytes answered as a tus error (the video is failed). */
export async function finishOrRefuse(ctx: AppContext, videoId: string): Promise<boolean> {
  try {
    return await finishUpload(ctx, videoId);
  } catch (err) {
    if (err instanceof UploadRefusedError) throw tusError(err.refusal.code, err.refusal.message);
    throw err;
  }
}

/** An error tus renders with this status (its own ERRORS, or ours from tusError). */
export const isTusError = (e: unknown, status: number) =>
  typeof e === 'object' && e !== null && (e as { status_code?: number }).status_code === status;
