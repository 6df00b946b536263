import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { sql } from 'kysely';
import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import { keys } from '../storage/object-store.ts';

/**
 * The rows of `s3_uploads` (migration 011): the whole state of an upload going straight into the
 * bucket. The row is the truth: S3 is never asked what it holds (no ListParts, no HEAD). A part
 * is recorded only after S3 acknowledged it, so a crash in between re-uploads the same part
 * number (S3 replaces it); the tail object is rewritten before its new size is recorded, and
 * always begins with the bytes the old size covered, so a crash in between leaves a valid state.
 */
export interface S3Part {
  n: number;
  etag: string;
  size: number;
}

export interface S3UploadRow {
  video_id: string;
  object_key: string;
  tail_key: string;
  size: string;
  part_size: number;
  s3_upload_id: string | null;
  parts: S3Part[];
  tail_size: string;
  created_at: Date;
  updated_at: Date;
}

export interface S3UploadState {
  videoId: string;
  objectKey: string;
  tailKey: string;
  size: number;
  partSize: number;
  uploadId: string | null;
  parts: S3Part[];
  tailSize: number;
  createdAt: Date;
}

/** Bytes the recorded parts hold. */
export const partBytes = (s: S3UploadState) => s.parts.reduce((n, p) => n + p.size, 0);
/** The upload's offset: recorded parts plus the tail. */
export const offsetOf = (s: S3UploadState) => partBytes(s) + s.tailSize;

/** The tail object of an upload: beside the original, so deleting the original's prefix removes it. */
export const tailKey = (videoId: string) => `${keys.original(videoId)}.tail`;

type S3UploadsDb = ReturnType<typeof withS3Uploads>;

export function withS3Uploads(db: Db) {
  return db.withTables<{ s3_uploads: S3UploadRow }>();
}

function toState(r: S3UploadRow): S3UploadState {
  return {
    videoId: r.video_id,
    objectKey: r.object_key,
    tailKey: r.tail_key,
    size: Number(r.size),
    partSize: r.part_size,
    uploadId: r.s3_upload_id,
    parts: r.parts,
    tailSize: Number(r.tail_size),
    createdAt: r.created_at,
  };
}

export class S3UploadRows {
  private readonly db: S3UploadsDb;
  constructor(db: Db) {
    this.db = withS3Uploads(db);
  }

  async load(videoId: string): Promise<S3UploadState | undefined> {
    const row = await this.db
      .selectFrom('s3_uploads')
      .selectAll()
      .where('video_id', '=', videoId)
      .executeTakeFirst();
    return row ? toState(row) : undefined;
  }

  /**
   * A fresh state for a new upload. A row left by a creation whose transaction rolled back is
   * replaced (its multipart upload, if any, is returned for the caller to abort).
   */
  async create(videoId: string, size: number, partSize: number): Promise<string | null> {
    const old = await this.load(videoId);
    await this.db
      .insertInto('s3_uploads')
      .values({
        video_id: videoId,
        object_key: keys.original(videoId),
        tail_key: tailKey(videoId),
        size: String(size),
        part_size: partSize,
        s3_upload_id: null,
        parts: sql`'[]'::jsonb` as never,
        tail_size: '0',
      } as never)
      .onConflict((oc) =>
        oc.column('video_id').doUpdateSet({
          size: String(size),
          part_size: partSize,
          s3_upload_id: null,
          parts: sql`'[]'::jsonb` as never,
          tail_size: '0',
          created_at: sql`now()` as never,
          updated_at: sql`now()` as never,
        } as never),
      )
      .execute();
    return old?.uploadId ?? null;
  }

  async setUploadId(videoId: string, uploadId: string): Promise<void> {
    await this.db
      .updateTable('s3_uploads')
      .set({ s3_upload_id: uploadId, updated_at: sql`now()` as never })
      .where('video_id', '=', videoId)
      .where('s3_upload_id', 'is', null)
      .execute();
  }

  /** Records part `part.n` (the next one) and empties the tail: its bytes are in the part now. */
  async addPart(videoId: string, part: S3Part): Promise<void> {
    const res = await this.db
      .updateTable('s3_uploads')
      .set({
        parts: sql`parts || ${JSON.stringify([part])}::jsonb` as never,
        tail_size: '0',
        updated_at: sql`now()` as never,
      })
      .where('video_id', '=', videoId)
      .where(sql<number>`jsonb_array_length(parts)`, '=', part.n - 1)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) {
      throw new Error(`upload ${videoId} changed under its writer (part ${part.n} not recorded)`);
    }
  }

  async setTail(videoId: string, tailSize: number): Promise<void> {
    await this.db
      .updateTable('s3_uploads')
      .set({ tail_size: String(tailSize), updated_at: sql`now()` as never })
      .where('video_id', '=', videoId)
      .execute();
  }

  async delete(videoId: string): Promise<void> {
    await this.db.deleteFrom('s3_uploads').where('video_id', '=', videoId).execute();
  }
}

/** S3's answer for an upload id it does not know (aborted, completed, or never created). */
export function isNoSuchUpload(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.name === 'NoSuchUpload' || err.$metadata?.httpStatusCode === 404)
  );
}

/**
 * Throws an unfinished upload's bytes away: aborts its multipart upload (S3 then frees the
 * parts), deletes the tail object, and only then the row, so a failure leaves the row for the
 * next attempt (cleanup retries). The original's key is not touched: a row can outlive a
 * completed upload by a crash, and then the original belongs to the video.
 */
export async function discardS3Upload(
  client: S3Client,
  bucket: string,
  rows: S3UploadRows,
  state: S3UploadState,
): Promise<void> {
  if (state.uploadId) {
    try {
      await client.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: state.objectKey, UploadId: state.uploadId }),
      );
    } catch (err) {
      if (!isNoSuchUpload(err)) throw err;
    }
  }
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: state.tailKey })).catch((err: unknown) => {
    if (!(err instanceof S3ServiceException && err.$metadata?.httpStatusCode === 404)) throw err;
  });
  await rows.delete(state.videoId);
}

/** The S3 client and bucket of the configured store, when storage is S3. */
export function s3Target(config: Config, store: unknown): { client: S3Client; bucket: string } | undefined {
  if (config.storage.driver !== 's3') return undefined;
  const s = store as { client?: S3Client; bucket?: string };
  return s.client && s.bucket ? { client: s.client, bucket: s.bucket } : undefined;
}
