import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';
import type { VideoStatus } from '../db/types.ts';

/**
 * A change of one video, as every node and browser sees it. Kept small: pg_notify payloads are
 * limited to 8000 bytes, and the WebSocket forwards this as-is (plus `type` and `seq`).
 */
export interface VideoEvent {
  videoId: string;
  userId: string;
  projectId: string;
  sessionId: string | null;
  status: VideoStatus | 'deleted';
  step: string | null;
  progress: number;
  error: { code: string; message: string } | null;
  updatedAt: string;
}

export const VIDEO_CHANNEL = 'clipdock_video';

/**
 * Publishes a change. Call it with the transaction that made the change: PostgreSQL delivers
 * the notification only if, and when, that transaction commits, so listeners never see a state
 * the database does not hold.
 */
export async function publishVideoEvent(db: DbOrTx, event: VideoEvent): Promise<void> {
  await sql`SELECT pg_notify(${VIDEO_CHANNEL}, ${JSON.stringify(event)})`.execute(db);
}
