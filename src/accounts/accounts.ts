import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../config.ts';
import { openAccount } from '../credits/ledger.ts';
import type { Db } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

export interface User {
  id: string;
  email: string;
}

/** Tokens are random 32 bytes shown once; only their SHA-256 is stored. */
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

async function issueToken(db: Db, userId: string): Promise<string> {
  const token = `cdk_${randomBytes(32).toString('base64url')}`;
  await db
    .insertInto('api_tokens')
    .values({ user_id: userId, token_hash: hashToken(token) })
    .execute();
  return token;
}

/** Creates the user, their default project and their credit account, in one transaction. */
export async function signup(
  db: Db,
  limits: Config['limits'],
  email: string,
  password: string,
): Promise<{ token: string; user: User }> {
  const passwordHash = await hashPassword(password);
  const user = await db
    .transaction()
    .execute(async (tx) => {
      const u = await tx
        .insertInto('users')
        .values({ email: email.trim(), password_hash: passwordHash })
        .returning(['id', 'email'])
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('projects')
        .values({ user_id: u.id, name: 'My videos', is_default: true })
        .execute();
      await openAccount(tx, u.id, limits.startingCredits);
      return u;
    })
    .catch((err: { code?: string; constraint?: string }) => {
      if (err.code === '23505' && err.constraint === 'users_email_key') throw new AppError('EMAIL_TAKEN');
      throw err;
    });
  return { token: await issueToken(db, user.id), user };
}

// Compared against when the email is unknown, so both paths cost one scrypt (no user enumeration by timing).
let dummyHash: Promise<string> | undefined;

export async function login(db: Db, email: string, password: string): Promise<{ token: string; user: User }> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'password_hash'])
    .where(sql`lower(email)`, '=', email.trim().toLowerCase())
    .executeTakeFirst();
  dummyHash ??= hashPassword('not-a-password');
  const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash));
  if (!row || !ok) throw new AppError('INVALID_CREDENTIALS');
  return { token: await issueToken(db, row.id), user: { id: row.id, email: row.email } };
}

/** The user a bearer token belongs to, or undefined. */
export async function authenticate(db: Db, token: string): Promise<User | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['users.id', 'users.email'])
    .where('api_tokens.token_hash', '=', hashToken(token))
    .where((eb) =>
      eb.or([eb('api_tokens.expires_at', 'is', null), eb('api_tokens.expires_at', '>', sql<Date>`now()`)]),
    )
    .executeTakeFirst();
  return row;
}
