import { api } from './api.ts';

/** The administrators' API (/api/admin/*): cleanup runs and the storage audit. */
export interface CleanupDetail {
  check: string;
  target: string;
  reason: string;
  action: string;
  outcome: 'repaired' | 'would_repair' | 'skipped' | 'error';
  bytes?: number;
  credits?: number;
  error?: string;
}
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
export interface StorageAuditRow {
  userId: string;
  email: string;
  projectId: string;
  projectName: string;
  videos: number;
  originalBytes: number;
  outputBytes: number;
  partialBytes: number;
  ready: number;
  failed: number;
  processing: number;
  unfinished: number;
}
export type StorageTotals = Omit<StorageAuditRow, 'userId' | 'email' | 'projectId' | 'projectName'>;

export const AdminApi = {
  cleanupRuns: (limit = 20) => api<{ runs: CleanupRun[] }>(`/api/admin/cleanup-runs?limit=${limit}`),
  runCleanup: (dryRun: boolean) =>
    api<{ run: CleanupRun }>('/api/admin/cleanup', { method: 'POST', body: JSON.stringify({ dryRun }) }),
  storage: () => api<{ rows: StorageAuditRow[]; totals: StorageTotals }>('/api/admin/storage'),
};
