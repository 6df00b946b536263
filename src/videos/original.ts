import type { DbOrTx } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { isUuid } from '../uploads/sessions.ts';

export interface StoredOriginal {
  storageKey: string;
  name: string;
  /**
   * The container type Clipdock's own detection recorded, or null. Never the type the client
   * declared: that is only what a stranger says about their bytes.
   */
  detectedType: string | null;
}

/** The stored original of one of the user's videos, or VIDEO_NOT_FOUND. */
export async function findOriginal(db: DbOrTx, userId: string, videoId: string): Promise<StoredOriginal> {
  const video = isUuid(videoId)
    ? await db
        .selectFrom('videos')
        .select(['name', 'storage_key', 'mime_type'])
        .where('id', '=', videoId)
        .where('user_id', '=', userId)
        .executeTakeFirst()
    : undefined;
  if (!video) throw new AppError('VIDEO_NOT_FOUND');
  if (!video.storage_key) {
    throw new AppError('VIDEO_NOT_FOUND', 'This video has no stored original (its upload has not finished).');
  }
  return { storageKey: video.storage_key, name: video.name, detectedType: video.mime_type };
}
