import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.ts';
import { reserveForVideos } from '../credits/ledger.ts';
import type { Db } from '../db/database.ts';
import type { VideoStatus } from '../db/types.ts';
import { AppError } from '../errors.ts';
import { formatBytes, formatBytesApart } from '../format.ts';
import { videoError } from '../processing/failure-policy.ts';
import { storageUsedBytes } from './quota.ts';
import { publishUploadEvent } from './upload-state.ts';

export interface SessionFileInput {
  name: string;
  size: number;
  type?: string | undefined;
  /** Hex SHA-256 of the first and last MiB (duplicates.ts); optional. */
  fingerprint?: string | undefined;
}

export interface CreatedSession {
  sessionId: string;
  files: Array<{
    videoId: string;
    name: string;
    upload: { endpoint: string; metadata: Record<string, string> };
  }>;
}

export const isUuid = (s: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** Why a file would be refused, or undefined when it passes the per-file limits. */
function checkFile(limits: Config['limits'], f: SessionFileInput, index: number): AppError | undefined {
  const details = { index, name: f.name };
  if (f.size === 0) {
    return new AppError('FILE_EMPTY', `"${f.name}" is empty (0 bytes). Pick the video file itself.`, details);
  }
  if (f.size > limits.maxFileBytes) {
    const [size, limit] = formatBytesApart(f.size, limits.maxFileBytes);
    return new AppError('FILE_TOO_LARGE', `"${f.name}" is ${size}; the limit is ${limit} per file.`, {
      ...details,
      maxFileBytes: limits.maxFileBytes,
    });
  }
  const ext = path.extname(f.name).slice(1).toLowerCase();
  const typeIsVideo = f.type?.toLowerCase().startsWith('video/') ?? false;
  if (!limits.acceptedExtensions.includes(ext) && !(ext === '' && typeIsVideo)) {
    return new AppError(
      'UNSUPPORTED_FILE_TYPE',
      `"${f.name}" is not an accepted video type. Accepted: ${limits.acceptedExtensions.join(', ')}.`,
      { ...details, acceptedExtensions: limits.acceptedExtensions },
    );
  }
  return undefined;
}

/**
 * Creates a session with one pending video and one credit reservation per file, all or nothing.
 * The user's credit account row is locked first, so parallel sessions of one user are checked
 * against quota and balance one after the other and cannot overrun them together.
 */
export async function createUploadSession(
  db: Db,
  config: Config,
  userId: string,
  input: { projectId?: string | undefined; files: SessionFileInput[] },
  endpoint: string,
): Promise<CreatedSession> {
  const { limits } = config;
  if (input.files.length === 0) throw new AppError('VALIDATION_FAILED', 'Send at least one file.');
  if (input.files.length > limits.maxFilesPerSession) {
    throw new AppError(
      'TOO_MANY_FILES',
      `${input.files.length} files in one session; the limit is ${limits.maxFilesPerSession}. Split them into several sessions.`,
      { count: input.files.length, maxFiles: limits.maxFilesPerSession },
    );
  }
  input.files.forEach((f, i) => {
    const problem = checkFile(limits, f, i);
    if (problem) throw problem;
  });
  const totalBytes = input.files.reduce((sum, f) => sum + f.size, 0);
  if (input.projectId !== undefined && !isUuid(input.projectId)) throw new AppError('PROJECT_NOT_FOUND');

  return db.transaction().execute(async (tx) => {
    const project = await tx
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', userId)
      .$if(input.projectId !== undefined, (q) => q.where('id', '=', input.projectId!))
      .$if(input.projectId === undefined, (q) => q.where('is_default', '=', true))
      .executeTakeFirst();
    if (!project) throw new AppError('PROJECT_NOT_FOUND');

    await tx
      .selectFrom('credit_accounts')
      .select('user_id')
      .where('user_id', '=', userId)
      .forUpdate()
      .execute();

    const used = await storageUsedBytes(tx, userId);
    if (used + totalBytes > limits.storageQuotaBytes) {
      throw new AppError(
        'STORAGE_QUOTA_EXCEEDED',
        `These files need ${formatBytes(totalBytes)}; ${formatBytes(Math.max(0, limits.storageQuotaBytes - used))} of your ${formatBytes(limits.storageQuotaBytes)} are left. Delete videos or upload fewer files.`,
        { neededBytes: totalBytes, usedBytes: used, quotaBytes: limits.storageQuotaBytes },
      );
    }

    const session = await tx
      .insertInto('upload_sessions')
      .values({
        user_id: userId,
        project_id: project.id,
        file_count: input.files.length,
        total_bytes: totalBytes,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const videos = await tx
      .insertInto('videos')
      .values(
        input.files.map((f, i) => ({
          // Distinct timestamps keep the session's file order wherever videos are listed by time.
          created_at: sql<Date>`now() + make_interval(secs => ${i / 1e6})`,
          user_id: userId,
          project_id: project.id,
          session_id: session.id,
          name: f.name,
          declared_size: f.size,
          declared_type: f.type || null,
          fingerprint: f.fingerprint ?? null,
        })),
      )
      .returningAll()
      .execute();
    await reserveForVideos(
      tx,
      userId,
      videos.map((v) => v.id),
      limits.creditsPerVideo,
    );
    for (const v of videos) await publishUploadEvent(tx, v);

    return {
      sessionId: session.id,
      files: videos.map((v, i) => ({
        videoId: v.id,
        name: v.name,
        upload: {
          endpoint,
          metadata: { videoId: v.id, filename: v.name, filetype: input.files[i]?.type ?? '' },
        },
      })),
    };
  });
}

/** The session with its videos' upload states and the number of videos per status (owner only). */
export async function getUploadSession(db: Db, userId: string, sessionId: string) {
  if (!isUuid(sessionId)) throw new AppError('SESSION_NOT_FOUND');
  const session = await db
    .selectFrom('upload_sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!session) throw new AppError('SESSION_NOT_FOUND');
  const videos = await db
    .selectFrom('videos')
    .select([
      'id',
      'name',
      'status',
      'declared_size',
      'received_bytes',
      'upload_progress',
      'error_code',
      'error_message',
      'updated_at',
    ])
    .where('session_id', '=', sessionId)
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const counts: Partial<Record<VideoStatus, number>> = {};
  for (const v of videos) counts[v.status] = (counts[v.status] ?? 0) + 1;
  return {
    id: session.id,
    projectId: session.project_id,
    fileCount: session.file_count,
    totalBytes: Number(session.total_bytes),
    uploadedCount: session.uploaded_count,
    failedCount: session.failed_count,
    uploadedBytes: Number(session.uploaded_bytes),
    createdAt: session.created_at.toISOString(),
    completedAt: session.completed_at?.toISOString() ?? null,
    counts,
    videos: videos.map((v) => ({
      id: v.id,
      name: v.name,
      status: v.status,
      size: Number(v.declared_size),
      receivedBytes: Number(v.received_bytes),
      progress: Math.round(v.upload_progress),
      error: videoError(v.status, v.error_code, v.error_message),
      updatedAt: v.updated_at.toISOString(),
    })),
  };
}
