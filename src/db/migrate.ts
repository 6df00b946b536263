import { runMigrations as runWorkerMigrations } from 'graphile-worker';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Db } from './database.ts';
import { migrations } from './migrations/index.ts';

// Any constant works; it only has to be the same on every node.
const MIGRATION_LOCK_KEY = 7_243_817_001;

/**
 * Brings the schema (ours and graphile-worker's) up to date. Safe when several nodes start at
 * once: the whole run holds a session-level advisory lock, so one node migrates and the others
 * wait, then find nothing to do.
 */
export async function migrateToLatest(db: Db, url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(`Database migration ${failed} failed: ${(error as Error).message}`, { cause: error });
    }
    await runWorkerMigrations({ connectionString: url, logger: undefined });
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}
