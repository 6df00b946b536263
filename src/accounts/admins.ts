import type { Db } from '../db/database.ts';

/**
 * Who administers this server: the accounts named in ADMIN_EMAILS (case-insensitively), or, when
 * that is unset, the first account ever created (a fresh one-command start has an admin without
 * any setting).
 */
export async function isAdmin(
  db: Db,
  adminEmails: readonly string[],
  user: { id: string; email: string },
): Promise<boolean> {
  if (adminEmails.length > 0) return adminEmails.includes(user.email.trim().toLowerCase());
  const first = await db
    .selectFrom('users')
    .select('id')
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return first?.id === user.id;
}

/** True once any account exists. */
export async function hasAnyAccount(db: Db): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}
