import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { hashToken, newSecretToken, TOUCH_INTERVAL_MS } from './secret-tokens.ts';

/**
 * Sessions: what signup and login hand out, both as the web app's HttpOnly cookie and as the
 * `{token}` of the answer (one sign-in, one session, one secret). A session expires when unused
 * for `ttlHours`; each use pushes the expiry ahead (written at most once a minute). Logout
 * deletes it; "sign out everywhere" deletes all of the user's.
 */
export const SESSION_PREFIX = 'cdk_';

export async function createSession(db: Db, userId: string, ttlHours: number): Promise<string> {
  const token = newSecretToken(SESSION_PREFIX);
  await db
    .insertInto('auth_sessions')
    .values({
      user_id: userId,
      token_hash: hashToken(token),
      expires_at: sql<Date>`now() + make_interval(hours => ${ttlHours})`,
    })
    .execute();
  // Housekeeping where it costs nothing extra: this user's expired sessions go.
  await db
    .deleteFrom('auth_sessions')
    .where('user_id', '=', userId)
    .where('expires_at', '<=', sql<Date>`now()`)
    .execute();
  return token;
}

export interface SessionMatch {
  sessionId: string;
  user: { id: string; email: string };
  /** True when this use moved the expiry ahead (a cookie is then re-sent with a fresh Max-Age). */
  slid: boolean;
}

/** The live session a token belongs to; slides its expiry. */
export async function findSession(
  db: Db,
  token: string,
  ttlHours: number,
): Promise<SessionMatch | undefined> {
  const row = await db
    .selectFrom('auth_sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['s.id as sessionId', 'u.id', 'u.email', 's.last_seen_at'])
    .where('s.token_hash', '=', hashToken(token))
    .where('s.expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  if (!row) return undefined;
  const slid = Date.now() - row.last_seen_at.getTime() >= TOUCH_INTERVAL_MS;
  if (slid) {
    await db
      .updateTable('auth_sessions')
      .set({
        last_seen_at: sql<Date>`now()`,
        expires_at: sql<Date>`now() + make_interval(hours => ${ttlHours})`,
      })
      .where('id', '=', row.sessionId)
      .execute();
  }
  return { sessionId: row.sessionId, user: { id: row.id, email: row.email }, slid };
}

/** Logout: the session of this token stops working. True when there was one. */
export async function revokeSession(db: Db, token: string): Promise<boolean> {
  const r = await db
    .deleteFrom('auth_sessions')
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** "Sign out everywhere": every session of the user (cookies and login tokens), not API tokens. */
export async function revokeAllSessions(db: Db, userId: string): Promise<number> {
  const r = await db.deleteFrom('auth_sessions').where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows);
}
