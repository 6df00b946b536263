import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';
import { enqueueWebhookDeliveries } from '../webhooks/enqueue.ts';
import type { ReceivedVideoEvent, VideoEvent } from './video-event.ts';

export type { ReceivedVideoEvent, VideoEvent } from './video-event.ts';

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
      ...(e.analysis !== undefined ? { analysis: e.analysis } : {}),
      ...(typeof e.etaSeconds === 'number' ? { etaSeconds: e.etaSeconds } : {}),
      xid: typeof e.xid === 'string' ? e.xid : undefined,
    };
  } catch {
    return undefined;
  }
}
