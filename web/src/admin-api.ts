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

/** GET /api/admin/analytics (speeds in bytes per second, rates 0..1). */
export interface UploadAnalytics {
  days: number;
  uploads: {
    count: number;
    speedP50: number | null;
    speedP95: number | null;
    totalBytes: number;
    resumes: number;
  };
  failures: {
    finished: number;
    failed: number;
    rate: number;
    byCode: Array<{ code: string; count: number; rate: number }>;
  };
  perDay: Array<{
    day: string;
    uploads: number;
    bytes: number;
    processed: number;
    processingP50Seconds: number | null;
    processingP95Seconds: number | null;
  }>;
}
export interface Alert {
  id: string;
  rule: 'failure_rate' | 'queue_age' | 'video_stuck' | 'quota' | 'disk_low';
  subject: string;
  state: 'firing' | 'resolved';
  summary: string;
  details: Record<string, unknown>;
  firstFiredAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
  notifiedFiringAt: string | null;
  notifiedResolvedAt: string | null;
  lastNotifyError: string | null;
}
export type AlertListing = { firing: Alert[]; history: Alert[] };

export const AdminInsightsApi = {
  analytics: (days: number) => api<UploadAnalytics>(`/api/admin/analytics?days=${days}`),
  alerts: () => api<AlertListing>('/api/admin/alerts'),
  evaluateAlerts: () => api<AlertListing>('/api/admin/alerts/evaluate', { method: 'POST' }),
};
