import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';

/**
 * Bytes counted against a user's quota: every video that holds, or is about to hold, stored
 * bytes (a video that failed before its bytes were stored holds none). Declared sizes count
 * from the moment a session is created, so parallel sessions cannot overrun the quota together.
 */
export async function storageUsedBytes(db: DbOrTx, userId: string): Promise<number> {
  const row = await db
    .selectFrom('videos')
    .select(sql<string>`coalesce(sum(declared_size), 0)`.as('used'))
    .where('user_id', '=', userId)
    .where('status', 'not in', ['canceled', 'upload_expired'])
    // A video refused during its upload (not a video) never stored anything.
    .where((eb) => eb.not(eb.and([eb('status', '=', 'failed'), eb('storage_key', 'is', null)])))
    .executeTakeFirstOrThrow();
  return Number(row.used);
}
