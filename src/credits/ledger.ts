import { sql } from 'kysely';
import type { DbOrTx, Tx } from '../db/database.ts';
import { AppError } from '../errors.ts';

/**
 * Credits move in three steps: reserve (balance → reserved) when an upload session is created,
 * capture (reserved → spent) when the video becomes ready, release (reserved → balance) when it
 * fails, is canceled or deleted. A reservation is settled at most once: settlement is a
 * conditional UPDATE on its state, so retries, crashes and racing workers cannot charge twice.
 * The CHECK constraints keep balance and reserved from going negative.
 */

export async function openAccount(tx: Tx, userId: string, startingCredits: number): Promise<void> {
  await tx.insertInto('credit_accounts').values({ user_id: userId, balance: startingCredits }).execute();
  await tx
    .insertInto('credit_entries')
    .values({
      user_id: userId,
      kind: 'grant',
      amount: startingCredits,
      idempotency_key: `grant:signup:${userId}`,
    })
    .execute();
}

export async function getBalance(db: DbOrTx, userId: string): Promise<{ balance: number; reserved: number }> {
  const row = await db
    .selectFrom('credit_accounts')
    .select(['balance', 'reserved'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row ?? { balance: 0, reserved: 0 };
}

/**
 * Reserves `amount` for each video, all or nothing. Must run in the caller's transaction.
 * Throws INSUFFICIENT_CREDITS (and reserves nothing) when the balance does not cover them all.
 */
export async function reserveForVideos(
  tx: Tx,
  userId: string,
  videoIds: string[],
  amount: number,
): Promise<void> {
  const total = amount * videoIds.length;
  const updated = await tx
    .updateTable('credit_accounts')
    .set((eb) => ({
      balance: eb('balance', '-', total),
      reserved: eb('reserved', '+', total),
      updated_at: sql`now()`,
    }))
    .where('user_id', '=', userId)
    .where('balance', '>=', total)
    .returning('balance')
    .executeTakeFirst();
  if (!updated) {
    const { balance } = await getBalance(tx, userId);
    throw new AppError(
      'INSUFFICIENT_CREDITS',
      `These ${videoIds.length} video(s) need ${total} credits (${amount} each); your balance is ${balance}. Upload fewer files or add credits.`,
      { needed: total, balance },
    );
  }
  if (videoIds.length === 0) return;
  const reservations = await tx
    .insertInto('credit_reservations')
    .values(videoIds.map((videoId) => ({ user_id: userId, video_id: videoId, amount })))
    .returning(['id', 'video_id'])
    .execute();
  await tx
    .insertInto('credit_entries')
    .values(
      reservations.map((r) => ({
        user_id: userId,
        reservation_id: r.id,
        kind: 'reserve' as const,
        amount: -amount,
        idempotency_key: `reserve:${r.id}`,
      })),
    )
    .execute();
}

/** Settles the open reservation of a video, if any. Returns true when this call settled it. */
async function settle(db: DbOrTx, videoId: string, to: 'captured' | 'released'): Promise<boolean> {
  const run = async (tx: Tx) => {
    const r = await tx
      .updateTable('credit_reservations')
      .set({ state: to, settled_at: sql`now()` })
      .where('video_id', '=', videoId)
      .where('state', '=', 'reserved')
      .returning(['id', 'user_id', 'amount'])
      .executeTakeFirst();
    if (!r) return false;
    await tx
      .updateTable('credit_accounts')
      .set((eb) => ({
        reserved: eb('reserved', '-', r.amount),
        balance: to === 'released' ? eb('balance', '+', r.amount) : eb.ref('balance'),
        updated_at: sql`now()`,
      }))
      .where('user_id', '=', r.user_id)
      .execute();
    await tx
      .insertInto('credit_entries')
      .values({
        user_id: r.user_id,
        reservation_id: r.id,
        kind: to === 'captured' ? 'capture' : 'release',
        amount: to === 'captured' ? 0 : r.amount,
        idempotency_key: `${to === 'captured' ? 'capture' : 'release'}:${r.id}`,
      })
      .execute();
    return true;
  };
  return db.isTransaction ? run(db as Tx) : db.transaction().execute(run);
}

export const captureReservation = (db: DbOrTx, videoId: string) => settle(db, videoId, 'captured');
export const releaseReservation = (db: DbOrTx, videoId: string) => settle(db, videoId, 'released');

/** A new reservation for a retried video; throws INSUFFICIENT_CREDITS when the balance is short. */
export async function reserveForRetry(
  tx: Tx,
  userId: string,
  videoId: string,
  amount: number,
): Promise<void> {
  await reserveForVideos(tx, userId, [videoId], amount);
}
