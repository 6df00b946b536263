import type { Db } from '../db/database.ts';
import type { VideoStatus } from '../db/types.ts';

/** A file's fingerprint: hex SHA-256 of its first MiB followed by its last MiB (the web app's identity.ts). */
export const FINGERPRINT = /^[0-9a-f]{64}$/;

/** Most files asked about in one request (a drop of hundreds of files asks once). */
export const MAX_DUPLICATE_QUERIES = 1000;

export interface FileProbe {
  size: number;
  fingerprint: string;
}

export interface DuplicateMatch {
  /** Index of the file in the request. */
  index: number;
  videoId: string;
  name: string;
  status: VideoStatus;
  createdAt: string;
}

/**
 * Statuses of a video that is no usable copy of the file: its bytes never arrived or were given
 * up, or it failed (uploading the file again is how a person tries once more, and a failed
 * video was never charged).
 */
const NOT_HELD: VideoStatus[] = ['canceled', 'upload_expired', 'failed'];

/**
 * Which of `files` this user uploaded (or is uploading) already: a video of theirs with the same
 * declared size and fingerprint, recorded when its upload session was opened. Each file gets its
 * newest match; files without one are left out. One query, on the (user, size, fingerprint) index.
 */
export async function findDuplicates(db: Db, userId: string, files: FileProbe[]): Promise<DuplicateMatch[]> {
  if (files.length === 0) return [];
  const rows = await db
    .selectFrom('videos')
    .select(['id', 'name', 'status', 'declared_size', 'fingerprint', 'created_at'])
    .where('user_id', '=', userId)
    .where('status', 'not in', NOT_HELD)
    .where('fingerprint', 'in', [...new Set(files.map((f) => f.fingerprint))])
    .where('declared_size', 'in', [...new Set(files.map((f) => String(f.size)))])
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  const matches: DuplicateMatch[] = [];
  files.forEach((f, index) => {
    const v = rows.find((r) => r.fingerprint === f.fingerprint && Number(r.declared_size) === f.size);
    if (v)
      matches.push({
        index,
        videoId: v.id,
        name: v.name,
        status: v.status,
        createdAt: v.created_at.toISOString(),
      });
  });
  return matches;
}
