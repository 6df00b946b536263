import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

/** A fresh, migrated database of its own on the test cluster. */
export async function createTestDatabase(): Promise<DatabaseHandle & { drop(): Promise<void> }> {
  const admin = new URL(inject('pgAdminUrl'));
  const name = `clipdock_t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  const handle = openDatabase(url.toString(), 10);
  await migrateToLatest(handle.db, url.toString());
  return {
    ...handle,
    async drop() {
      await handle.close();
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
