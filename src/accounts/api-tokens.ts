import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { hashToken, newSecretToken, TOUCH_INTERVAL_MS } from './secret-tokens.ts';

/**
 * Personal API tokens, for scripts and the CLI: named, optional expiry, shown once at creation,
 * listed with their last use, revoked one by one. "Sign out everywhere" leaves them alone.
 */
export const API_TOKEN_PREFIX = 'cdp_';
/** Enough for every script of a person; a cap so a runaway loop can't fill the table. */
export const MAX_API_TOKENS_PER_USER = 100;

export interface ApiTokenDto {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

const columns = ['id', 'name', 'created_at', 'last_used_at', 'expires_at'] as const;
const dto = (r: {
  id: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
}): ApiTokenDto => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  expiresAt: r.expires_at?.toISOString() ?? null,
});

export async function createApiToken(
  db: Db,
  userId: string,
  input: { name: string; expiresAt?: Date },
): Promise<ApiTokenDto & { token: string }> {
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
    throw new AppError('API_TOKEN_EXPIRY_INVALID');
  // A cap that stops runaway loops; parallel creations may pass it by a few, which is harmless.
  const { n } = await db
    .selectFrom('api_tokens')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  if (Number(n) >= MAX_API_TOKENS_PER_USER) throw new AppError('TOO_MANY_API_TOKENS');
  const token = newSecretToken(API_TOKEN_PREFIX);
  const row = await db
    .insertInto('api_tokens')
    .values({
      user_id: userId,
      name: input.name,
      token_hash: hashToken(token),
      expires_at: input.expiresAt ?? null,
    })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return { ...dto(row), token };
}

export async function listApiTokens(db: Db, userId: string): Promise<ApiTokenDto[]> {
  const rows = await db
    .selectFrom('api_tokens')
    .select(columns)
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(dto);
}

export async function revokeApiToken(db: Db, userId: string, id: string): Promise<void> {
  const r = await db
    .deleteFrom('api_tokens')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (r.numDeletedRows === 0n) throw new AppError('API_TOKEN_NOT_FOUND');
}

/** Revokes the token with this value (logout with an API token revokes it). True when there was one. */
export async function revokeApiTokenByValue(db: Db, token: string): Promise<boolean> {
  const r = await db.deleteFrom('api_tokens').where('token_hash', '=', hashToken(token)).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** The owner of a live API token; records its use (at most once a minute). */
export async function findApiToken(
  db: Db,
  token: string,
): Promise<{ tokenId: string; user: { id: string; email: string } } | undefined> {
  const row = await db
    .selectFrom('api_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select(['t.id as tokenId', 'u.id', 'u.email', 't.last_used_at'])
    .where('t.token_hash', '=', hashToken(token))
    .where((eb) => eb.or([eb('t.expires_at', 'is', null), eb('t.expires_at', '>', sql<Date>`now()`)]))
    .executeTakeFirst();
  if (!row) return undefined;
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() >= TOUCH_INTERVAL_MS) {
    await db
      .updateTable('api_tokens')
      .set({ last_used_at: sql<Date>`now()` })
      .where('id', '=', row.tokenId)
      .execute();
  }
  return { tokenId: row.tokenId, user: { id: row.id, email: row.email } };
}
