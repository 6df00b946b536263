import { runCleanup } from '../cleanup/cleanup.ts';
import type { AppContext } from '../context.ts';
import type { Tasks } from './worker.ts';

/** The worker's task list: job name → the domain function that runs it. */
export function workerTasks(ctx: AppContext): Tasks {
  return {
    cleanup_storage: async () => {
      await runCleanup(ctx);
    },
  };
}

/**
 * Housekeeping schedule (graphile-worker crontab syntax). The cleanup sweep catches deletes
 * whose job ran out of attempts while storage was down.
 */
export const workerCrontab = [
  '*/15 * * * * cleanup_storage ?jobKey=cleanup_storage&jobKeyMode=preserve_run_at',
].join('\n');
