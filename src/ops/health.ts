import type { Db } from '../db/database.ts';
import { isDatabaseUp } from '../db/database.ts';
import type { ObjectStore } from '../storage/object-store.ts';

/**
 * Readiness: can this node do its work right now? The database answers a query and the object
 * store answers a HEAD (of a key that need not exist: an absent object is an answer, an
 * unreachable store is not). Each check is bounded, so a hung dependency reports as failed
 * instead of hanging the probe.
 */
export interface Readiness {
  ready: boolean;
  checks: { database: 'ok' | 'failed'; storage: 'ok' | 'failed' };
}

const CHECK_TIMEOUT_MS = 3000;
const PROBE_KEY = 'health/ready-probe';

export async function checkReadiness(db: Db, store: ObjectStore): Promise<Readiness> {
  const [database, storage] = await Promise.all([
    bounded(isDatabaseUp(db)),
    bounded(store.head(PROBE_KEY).then(() => true)),
  ]);
  return {
    ready: database && storage,
    checks: { database: database ? 'ok' : 'failed', storage: storage ? 'ok' : 'failed' },
  };
}

/** The error body of a failed readiness check: which dependency failed, in the catalogue's shape. */
export function readinessError(r: Readiness): { code: string; message: string } {
  const failed = Object.entries(r.checks)
    .filter(([, v]) => v === 'failed')
    .map(([k]) => k);
  return {
    code: 'NOT_READY',
    message: `Not ready: ${failed.join(' and ')} ${failed.length > 1 ? 'do' : 'does'} not answer.`,
  };
}

async function bounded(check: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
