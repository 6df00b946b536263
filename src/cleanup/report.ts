/**
 * What a cleanup sweep records about one item it looked at closely: which check found it, what
 * it is, why it is wrong, what the sweep did (or, in a dry run, would do) and how that went.
 */
export type ItemOutcome = 'repaired' | 'would_repair' | 'skipped' | 'error';

export interface CleanupDetail {
  check: CheckName;
  /** A video id, a storage prefix or a cleanup_jobs id. */
  target: string;
  reason: string;
  action: string;
  outcome: ItemOutcome;
  /** Bytes deleted (or to delete), where the item holds some. */
  bytes?: number;
  /** Credits released (or to release), where the item held a reservation. */
  credits?: number;
  error?: string;
}

export type CheckName =
  | 'expired_uploads'
  | 'stalled_processing'
  | 'never_queued'
  | 'missing_originals'
  | 'orphaned_objects'
  | 'orphaned_partials'
  | 'abandoned_multiparts'
  | 'failed_deletes';

export interface CheckResult {
  /** How many rows or objects the check inspected. */
  examined: number;
  items: CleanupDetail[];
}

export function outcomeOf(dryRun: boolean): ItemOutcome {
  return dryRun ? 'would_repair' : 'repaired';
}

export function errorText(err: unknown): string {
  return String((err as Error)?.message ?? err).slice(0, 500);
}
