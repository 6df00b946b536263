import { sql } from 'kysely';
import type { Db } from '../db/database.ts';

/** One row of the storage audit (the `video_storage_analysis` view, migration 008). */
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

/** Per user and project, largest first, with the totals over all of them. */
export async function storageAudit(db: Db): Promise<{
  rows: StorageAuditRow[];
  totals: Omit<StorageAuditRow, 'userId' | 'email' | 'projectId' | 'projectName'>;
}> {
  const result = await sql<Record<string, string | number>>`
    SELECT * FROM video_storage_analysis
    ORDER BY original_bytes + output_bytes + partial_bytes DESC, email, project_name`.execute(db);
  const rows = result.rows.map(
    (r): StorageAuditRow => ({
      userId: String(r.user_id),
      email: String(r.email),
      projectId: String(r.project_id),
      projectName: String(r.project_name),
      videos: Number(r.videos),
      originalBytes: Number(r.original_bytes),
      outputBytes: Number(r.output_bytes),
      partialBytes: Number(r.partial_bytes),
      ready: Number(r.ready),
      failed: Number(r.failed),
      processing: Number(r.processing),
      unfinished: Number(r.unfinished),
    }),
  );
  const totals = {
    videos: 0,
    originalBytes: 0,
    outputBytes: 0,
    partialBytes: 0,
    ready: 0,
    failed: 0,
    processing: 0,
    unfinished: 0,
  };
  for (const r of rows) for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += r[k];
  return { rows, totals };
}
