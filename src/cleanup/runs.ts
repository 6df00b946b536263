import type { Db } from '../db/database.ts';
import type { CleanupDetail } from './report.ts';

/** A recorded cleanup run, as the admin API shows it. */
export interface CleanupRun {
  id: string;
  type: 'dry_run' | 'repair';
  trigger: 'scheduled' | 'manual' | 'cli';
  dryRun: boolean;
  startedAt: string;
  finishedAt: string | null;
  examined: number;
  repaired: number;
  errors: number;
  details: CleanupDetail[];
}

type RunRow = {
  id: string;
  trigger: CleanupRun['trigger'];
  dry_run: boolean;
  started_at: Date;
  finished_at: Date | null;
  examined: number;
  repaired: number;
  errors: number;
  details: unknown;
};

function toRun(r: RunRow): CleanupRun {
  return {
    id: r.id,
    type: r.dry_run ? 'dry_run' : 'repair',
    trigger: r.trigger,
    dryRun: r.dry_run,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
    examined: r.examined,
    repaired: r.repaired,
    errors: r.errors,
    details: r.details as CleanupDetail[],
  };
}

export async function getRun(db: Db, id: string): Promise<CleanupRun | undefined> {
  const row = await db.selectFrom('cleanup_runs').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toRun(row) : undefined;
}

/** Newest first. */
export async function listRuns(db: Db, limit: number): Promise<CleanupRun[]> {
  const rows = await db
    .selectFrom('cleanup_runs')
    .selectAll()
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map(toRun);
}
