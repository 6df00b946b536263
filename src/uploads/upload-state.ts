import type { DbOrTx } from '../db/database.ts';
import type { VideoRow } from '../db/types.ts';
import { publishVideoEvent } from '../events/video-events.ts';
import { videoError } from '../processing/failure-policy.ts';

/**
 * The upload's live event for what is not a status change: progress ticks (progress.ts) and the
 * videos a new session creates (sessions.ts). The status changes themselves (→ uploading,
 * → uploaded, → failed / canceled / upload_expired) are owned by src/videos/upload-status.ts.
 */

// Re-exported for the readers that predate the move (cleanup's checks).
export { UNFINISHED, uploadCleanupTarget } from '../videos/upload-status.ts';

type EventRow = Pick<
  VideoRow,
  | 'id'
  | 'user_id'
  | 'project_id'
  | 'session_id'
  | 'status'
  | 'error_code'
  | 'error_message'
  | 'upload_progress'
> & { updated_at: Date };

export async function publishUploadEvent(db: DbOrTx, v: EventRow): Promise<void> {
  await publishVideoEvent(db, {
    videoId: v.id,
    userId: v.user_id,
    projectId: v.project_id,
    sessionId: v.session_id,
    status: v.status,
    step: null,
    progress: Math.round(v.upload_progress),
    error: videoError(v.status, v.error_code, v.error_message),
    updatedAt: v.updated_at.toISOString(),
  });
}
