import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';
import type { VideoEvent } from '../events/video-event.ts';
import { enqueue } from '../jobs/queue.ts';
import { findVideo } from '../videos/repository.ts';
import { presentVideoState } from '../videos/video-dto.ts';
import { deliveryJobOptions, webhookEventOfStatus } from './events.ts';

/**
 * Turns a published video change into webhook deliveries, in the transaction that made the
 * change (called from `publishVideoEvent`): a delivery and its job exist if and only if the
 * change committed, so a node dying right after the commit loses nothing (at-least-once).
 *
 * Only changes of status are announced: progress events carry `processing`/`uploading` (or are
 * marked `kind: 'progress'`, such as enrichment's while the video is `ready`) and are skipped
 * without a query; the end of enrichment (`kind: 'analysis.ready'`) is `video.analysis.ready`; and a rename (the one event that carries `name`) repeats the
 * current status, which is not news.
 *
 * `data` is the video's public shape (src/videos/video-dto.ts) as of this transaction, without
 * `posterUrl` (a signed URL would expire while retries go on; read GET /api/videos/:id for it).
 * A deleted video's row is gone, so its `data` holds what the event knows.
 */
export async function enqueueWebhookDeliveries(db: DbOrTx, event: VideoEvent): Promise<void> {
  if (event.kind === 'progress' || event.name !== undefined) return;
  const type = event.kind === 'analysis.ready' ? 'video.analysis.ready' : webhookEventOfStatus(event.status);
  if (!type) return;
  const hooks = await db
    .selectFrom('webhooks')
    .select('id')
    .where('user_id', '=', event.userId)
    .where((eb) => eb.or([eb('project_id', 'is', null), eb('project_id', '=', event.projectId)]))
    .where(sql<boolean>`${type} = ANY(events)`)
    .execute();
  if (hooks.length === 0) return;

  let data: Record<string, unknown>;
  const row = type === 'video.deleted' ? undefined : await findVideo(db, event.userId, event.videoId);
  if (row) {
    data = { ...presentVideoState(row) };
  } else {
    data = {
      id: event.videoId,
      status: event.status,
      projectId: event.projectId,
      sessionId: event.sessionId,
      error: event.error,
      updatedAt: event.updatedAt,
    };
  }
  const payload = { type, timestamp: new Date().toISOString(), data };
  const deliveries = await db
    .insertInto('webhook_deliveries')
    .values(
      hooks.map((h) => ({
        webhook_id: h.id,
        event_type: type,
        video_id: event.videoId,
        payload: JSON.stringify(payload),
      })),
    )
    .returning('id')
    .execute();
  for (const d of deliveries) {
    await enqueue(db, 'deliver_webhook', { deliveryId: d.id }, deliveryJobOptions(d.id));
  }
}
