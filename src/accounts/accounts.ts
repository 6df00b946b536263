import { sql } from 'kysely';
import type { Config } from '../config.ts';
import { openAccount } from '../credits/ledger.ts';
import type { Db } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { API_TOKEN_PREFIX, findApiToken } from './api-tokens.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { createSession, findSession, SESSION_PREFIX } from './sessions.ts';

export interface User {
  id: string;
  email: string;
}

/** Creates the user, their default project and their credit account, in one transaction. */
export async function signup(
  db: Db,
  config: Pick<Config, 'limits' | 'auth'>,
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
      await openAccount(tx, u.id, config.limits.startingCredits);
      return u;
    })
    .catch((err: { code?: string; constraint?: string }) => {
      if (err.code === '23505' && err.constraint === 'users_email_key') throw new AppError('EMAIL_TAKEN');
      throw err;
    });
  return { token: await createSession(db, user.id, config.auth.sessionTtlHours), user };
}

// Compared against when the email is unknown, so both paths cost one scrypt (no user enumeration by timing).
let dummyHash: Promise<string> | undefined;

export async function login(
  db: Db,
  config: Pick<Config, 'auth'>,
  email: string,
  password: string,
): Promise<{ token: string; user: User }> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'password_hash'])
    .where(sql`lower(email)`, '=', email.trim().toLowerCase())
    .executeTakeFirst();
  dummyHash ??= hashPassword('not-a-password');
  const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash));
  if (!row || !ok) throw new AppError('INVALID_CREDENTIALS');
  const token = await createSession(db, row.id, config.auth.sessionTtlHours);
  return { token, user: { id: row.id, email: row.email } };
}

/** Who a bearer secret authenticates, and as what: a session (login token or cookie) or an API token. */
export type Authenticated =
  | { kind: 'session'; user: User; sessionId: string; slid: boolean }
  | { kind: 'api_token'; user: User; tokenId: string };

/** The owner of a session or API token, by its prefix; undefined when unknown, expired or revoked. */
export async function authenticate(
  db: Db,
  config: Pick<Config, 'auth'>,
  token: string,
): Promise<Authenticated | undefined> {
  if (token.startsWith(SESSION_PREFIX)) {
    const s = await findSession(db, token, config.auth.sessionTtlHours);
    return s && { kind: 'session', ...s };
  }
  if (token.startsWith(API_TOKEN_PREFIX)) {
    const t = await findApiToken(db, token);
    return t && { kind: 'api_token', ...t };
  }
  return undefined;
}

export async function findUser(db: Db, id: string): Promise<User | undefined> {
  return db.selectFrom('users').select(['id', 'email']).where('id', '=', id).executeTakeFirst();
}
