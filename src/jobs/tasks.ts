import type { AppContext } from '../context.ts';
import type { Tasks } from './worker.ts';

/** The worker's task list: job name → the domain function that runs it. */
export function workerTasks(_ctx: AppContext): Tasks {
  return {};
}

/** Housekeeping schedule (graphile-worker crontab syntax). */
export const workerCrontab = '';
