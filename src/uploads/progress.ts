import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { publishUploadEvent } from './upload-state.ts';

/** At most this many progress writes per second per upload request (plus one final write). */
export const PROGRESS_WRITES_PER_SECOND = 4;

/**
 * Writes an upload's received bytes and percentage to its video, and publishes them, at a bounded
 * rate while bytes stream in. Writes are chained so they land in order; each is conditional on
 * the video still uploading, so a late write never undoes a finish, a cancel or a failure.
 */
export class UploadProgress {
  private readonly db: Db;
  private readonly log: FastifyBaseLogger;
  private readonly videoId: string;
  private readonly size: number;
  private readonly intervalMs = 1000 / PROGRESS_WRITES_PER_SECOND;
  private lastWriteAt = Date.now();
  private chain: Promise<void> = Promise.resolve();
  /** A MIME type the sniffer established, stored with the next write. */
  mime: string | undefined;

  constructor(db: Db, log: FastifyBaseLogger, videoId: string, size: number) {
    this.db = db;
    this.log = log;
    this.videoId = videoId;
    this.size = size;
  }

  /** Called for every chunk; cheap unless a write is due. */
  report(offset: number): void {
    const now = Date.now();
    if (now - this.lastWriteAt < this.intervalMs) return;
    this.lastWriteAt = now;
    this.enqueue(offset);
  }

  /** The final write of a request; resolves when every write of this request has landed. */
  async flush(offset: number): Promise<void> {
    this.enqueue(offset);
    await this.chain;
  }

  private enqueue(offset: number): void {
    this.chain = this.chain.then(() =>
      this.write(offset).catch((err: unknown) =>
        this.log.warn({ err, videoId: this.videoId }, 'upload progress write failed'),
      ),
    );
  }

  private async write(offset: number): Promise<void> {
    const progress = this.size > 0 ? Math.min(100, (offset * 100) / this.size) : 0;
    const mime = this.mime;
    await this.db.transaction().execute(async (tx) => {
      // Progress is advisory (the stored bytes are the truth, and HEAD reads them): losing the
      // last writes in a database crash is harmless, so don't wait for the WAL flush on commit.
      await sql`SET LOCAL synchronous_commit = off`.execute(tx);
      const row = await tx
        .updateTable('videos')
        .set({
          received_bytes: offset,
          upload_progress: progress,
          mime_type: mime ? sql`coalesce(mime_type, ${mime})` : sql`mime_type`,
          updated_at: sql`now()`,
        })
        .where('id', '=', this.videoId)
        .where('status', '=', 'uploading')
        // Monotonic: a late write of an earlier request never moves progress backwards.
        .where('received_bytes', '<=', String(offset))
        .returningAll()
        .executeTakeFirst();
      if (row) await publishUploadEvent(tx, row);
    });
  }
}
