import type { DbOrTx } from '../db/database.ts';
import type { VideoEvent } from '../events/video-event.ts';
import { publishVideoEvent } from '../events/video-events.ts';
import { findVideoState } from './repository.ts';
import { presentVideoState, videoEventOf } from './video-dto.ts';

/**
 * The one shape of a video's live event: read back in the transaction that changed the video,
 * presented like every other reader sees it (video-dto.ts: status, step, progress, error,
 * analysis, etaSeconds), and published with that transaction (delivered only if it commits).
 * `kind` tells webhooks what the change announces (see VideoEvent).
 */
export async function publishVideoState(
  tx: DbOrTx,
  videoId: string,
  kind?: VideoEvent['kind'],
): Promise<void> {
  const row = await findVideoState(tx, videoId);
  // Deleted meanwhile: its delete published the `deleted` event.
  if (!row) return;
  await publishVideoEvent(tx, videoEventOf(row, presentVideoState(row), kind ? { kind } : {}));
}
