import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { AppContext } from '../../src/context.ts';
import { startWorker, type WorkerHandle } from '../../src/jobs/worker.ts';
import { waitFor } from '../uploads/helpers.ts';
import { type OwnPostgres, startOwnPostgres } from './helpers.ts';

/**
 * graphile-worker records a job's end in a promise nobody awaits: a job that ended while
 * PostgreSQL was down used to reject unhandled (ECONNREFUSED in failJobs: exit 1) and stay
 * locked. Here two jobs end during a real outage, one with success and one with an error; both
 * are recorded once the database is back, and nothing rejects unhandled.
 */
let pgOwn: OwnPostgres;
let dbUrl: string;
let worker: WorkerHandle | undefined;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const lines: string[] = [];

beforeAll(async () => {
  pgOwn = await startOwnPostgres();
  dbUrl = await pgOwn.createDatabase();
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await pgOwn?.start();
  await worker?.stop();
  await pgOwn?.destroy();
});

async function query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: dbUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

describe('a job that ends while PostgreSQL is down', () => {
  it('is recorded once it is back (completed, or failed and retried later); nothing rejects unhandled', {
    timeout: 120_000,
  }, async () => {
    const config = loadConfig({ DATABASE_URL: dbUrl, CLIPDOCK_DATA_DIR: '/tmp', LOG_LEVEL: 'debug' });
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const log = pino({ level: 'debug' }, sink);
    const ctx = { config, log, databaseUrl: dbUrl } as unknown as AppContext;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const started = new Set<string>();
    worker = await startWorker(
      ctx,
      {
        expire_uploads: async () => {
          started.add('ok');
          await gate;
        },
        cleanup_storage: async () => {
          started.add('fails');
          await gate;
          throw new Error('the task failed');
        },
      },
      { concurrency: 2 },
    );
    await query(`SELECT graphile_worker.add_job('expire_uploads', '{}'::json)`);
    await query(`SELECT graphile_worker.add_job('cleanup_storage', '{}'::json)`);
    await waitFor(async () => started.size === 2);

    await pgOwn.stop();
    release();
    await waitFor(async () => lines.some((l) => l.includes('worker waits for the database')), 30_000);
    expect(unhandled).toEqual([]);

    await pgOwn.start();
    await waitFor(async () => {
      const rows = await query<{ task_identifier: string; locked_at: Date | null }>(
        'SELECT task_identifier, locked_at FROM graphile_worker.jobs',
      ).catch(() => undefined);
      return rows && rows.length === 1 && rows[0]!.locked_at === null;
    }, 60_000);
    const [failed] = await query<{ task_identifier: string; attempts: number; last_error: string }>(
      'SELECT task_identifier, attempts, last_error FROM graphile_worker.jobs',
    );
    expect(failed).toMatchObject({ task_identifier: 'cleanup_storage', attempts: 1 });
    expect(failed!.last_error).toMatch(/the task failed/);
    expect(unhandled).toEqual([]);
  });
});
