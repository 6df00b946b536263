import { Logger, type Runner, run, type Task, type TaskList } from 'graphile-worker';
import type { AppContext } from '../context.ts';
import { PatientPool } from './patient-pool.ts';
import type { JobName, JobPayloads } from './queue.ts';

/** A task with its payload typed from `JobPayloads`. */
export type TypedTask<N extends JobName> = (
  payload: JobPayloads[N],
  helpers: Parameters<Task>[1],
) => Promise<void>;
export type Tasks = { [N in JobName]?: TypedTask<N> };

export interface WorkerHandle {
  stop(): Promise<void>;
}

/**
 * Runs graphile-worker in this process: jobs are picked up through LISTEN/NOTIFY (no polling
 * delay), retried with backoff, and the crontab schedules the housekeeping jobs.
 */
export async function startWorker(
  ctx: AppContext,
  tasks: Tasks,
  opts: { crontab?: string; concurrency?: number } = {},
): Promise<WorkerHandle> {
  const log = ctx.log.child({ component: 'worker' });
  const logger = new Logger(() => (level, message, meta) => {
    const fn = isShutdownNoise(message, meta)
      ? log.debug
      : level === 'error'
        ? log.error
        : level === 'warning'
          ? log.warn
          : level === 'info'
            ? log.info
            : log.debug;
    fn.call(log, meta ?? {}, message);
  });
  const concurrency = opts.concurrency ?? ctx.config.worker.concurrency;
  // Our pool, so that its lifetime (and its error handling) is ours: ended after the runner
  // stops. It waits out a database outage instead of failing (see patient-pool.ts).
  const pgPool = new PatientPool(
    { connectionString: ctx.databaseUrl, max: concurrency + 4, connectionTimeoutMillis: 10_000 },
    log,
    'worker',
  );
  const runner: Runner = await run({
    pgPool,
    concurrency,
    taskList: tasks as TaskList,
    crontab: opts.crontab ?? '',
    noHandleSignals: true,
    logger,
    pollInterval: 2000,
  });
  return {
    async stop() {
      pgPool.stopWaiting();
      await runner.stop();
      await pgPool.end();
    },
  };
}

/**
 * Ctrl-C reaches the whole process group, the embedded PostgreSQL included, which then ends our
 * connections (57P01, "terminating connection due to administrator command") while we stop.
 * Expected at shutdown, so not worth a warning; any other connection error still is.
 */
function isShutdownNoise(message: string, meta: unknown): boolean {
  const error = (meta as { error?: { code?: string } } | undefined)?.error;
  return error?.code === '57P01' || /administrator command|is not queryable/.test(message);
}
