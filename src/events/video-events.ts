import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';
import type { VideoStatus } from '../db/types.ts';
import { enqueueWebhookDeliveries } from '../webhooks/enqueue.ts';

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
  /** `retryable`: whether POST /api/videos/:id/retry may run it again (failed videos). */
  error: { code: string; message: string; retryable?: boolean } | null;
  updatedAt: string;
  /** Set when the name changed (rename); otherwise clients keep the name they have. */
  name?: string;
}

/**
 * An event as a listener receives it: `xid` is the id of the transaction that published it, so
 * a reader can tell whether a database snapshot it took already reflects this change
 * (see `src/events/snapshot.ts`).
 */
export interface ReceivedVideoEvent extends VideoEvent {
  xid: string | undefined;
}

export const VIDEO_CHANNEL = 'clipdock_video';

/**
 * Publishes a change. Call it with the transaction that made the change: PostgreSQL delivers
 * the notification only if, and when, that transaction commits, so listeners never see a state
 * the database does not hold. The publishing transaction's id rides along as `xid`.
 */
export async function publishVideoEvent(db: DbOrTx, event: VideoEvent): Promise<void> {
  await sql`SELECT pg_notify(${VIDEO_CHANNEL}, (${JSON.stringify(event)}::jsonb || jsonb_build_object('xid', pg_current_xact_id()::text))::text)`.execute(
    db,
  );
  await enqueueWebhookDeliveries(db, event);
}

/** Parses a notification payload; undefined for anything that is not a video event. */
export function parseVideoEvent(payload: string | undefined): ReceivedVideoEvent | undefined {
  if (!payload) return undefined;
  try {
    const e = JSON.parse(payload) as Partial<ReceivedVideoEvent>;
    if (typeof e.videoId !== 'string' || typeof e.userId !== 'string' || typeof e.status !== 'string') {
      return undefined;
    }
    return {
      videoId: e.videoId,
      userId: e.userId,
      projectId: String(e.projectId ?? ''),
      sessionId: e.sessionId ?? null,
      status: e.status,
      step: e.step ?? null,
      progress: typeof e.progress === 'number' ? e.progress : 0,
      error: e.error ?? null,
      updatedAt: typeof e.updatedAt === 'string' ? e.updatedAt : new Date().toISOString(),
      ...(typeof e.name === 'string' ? { name: e.name } : {}),
      xid: typeof e.xid === 'string' ? e.xid : undefined,
    };
  } catch {
    return undefined;
  }
}
