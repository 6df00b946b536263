import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasAnyAccount, isAdmin } from '../../src/accounts/admins.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestDatabase } from '../helpers/db.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function addUser(email: string, createdAt: string) {
  return db.db
    .insertInto('users')
    .values({ email, password_hash: 'x', created_at: new Date(createdAt) })
    .returning(['id', 'email'])
    .executeTakeFirstOrThrow();
}

describe('isAdmin', () => {
  it('is nobody before any account exists, then the first account when ADMIN_EMAILS is unset', async () => {
    expect(await hasAnyAccount(db.db)).toBe(false);
    const later = await addUser('later@example.com', '2026-01-02T00:00:00Z');
    const first = await addUser('first@example.com', '2026-01-01T00:00:00Z');
    expect(await hasAnyAccount(db.db)).toBe(true);
    const { adminEmails } = loadConfig({}).abuse;
    expect(adminEmails).toEqual([]);
    expect(await isAdmin(db.db, adminEmails, first)).toBe(true);
    expect(await isAdmin(db.db, adminEmails, later)).toBe(false);
  });

  it('is exactly the accounts ADMIN_EMAILS names, case-insensitively, when it is set', async () => {
    const boss = await addUser('Boss@Example.com', '2026-01-03T00:00:00Z');
    const { adminEmails } = loadConfig({ ADMIN_EMAILS: ' boss@example.COM , ops@example.com' }).abuse;
    expect(adminEmails).toEqual(['boss@example.com', 'ops@example.com']);
    expect(await isAdmin(db.db, adminEmails, boss)).toBe(true);
    // The first account is no longer admin by default.
    const first = await db.db
      .selectFrom('users')
      .select(['id', 'email'])
      .where('email', '=', 'first@example.com')
      .executeTakeFirstOrThrow();
    expect(await isAdmin(db.db, adminEmails, first)).toBe(false);
  });
});

describe('abuse settings', () => {
  it('parse TRUST_PROXY as Fastify takes it, and refuse nonsense with one clear message', () => {
    expect(loadConfig({}).abuse.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).abuse.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).abuse.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' }).abuse.trustProxy).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      '::1',
    ]);
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.example' })).toThrow(/TRUST_PROXY: .*proxy\.example/);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
  });

  it('default to limits honest users never meet, and ALLOW_SIGNUP on', () => {
    expect(loadConfig({}).abuse).toMatchObject({
      loginPerAccount: 20,
      loginPerIp: 200,
      signupPerIp: 30,
      allowSignup: true,
    });
    expect(loadConfig({ ALLOW_SIGNUP: 'false', LOGIN_RATE_LIMIT: '0' }).abuse).toMatchObject({
      allowSignup: false,
      loginPerAccount: 0,
    });
    expect(() => loadConfig({ LOGIN_RATE_LIMIT: '-1' })).toThrow(/LOGIN_RATE_LIMIT/);
  });
});
