import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { publishUploadEvent } from './upload-state.ts';

/** At most this many progress writes per second per upload on one node. */
export const PROGRESS_WRITES_PER_SECOND = 4;
const INTERVAL_MS = 1000 / PROGRESS_WRITES_PER_SECOND;

interface Tracked {
  size: number;
  /** The highest offset reported since the last write, if any. */
  pending: number | undefined;
  /** Set while in the quiet interval after a write. */
  timer?: NodeJS.Timeout | undefined;
}

/**
 * Writes an upload's received bytes and percentage to its video, and publishes them, at a bounded
 * rate across all the requests of the upload on this node (a client sending 10 MiB chunks
 * makes dozens of PATCHes a second): a report after a quiet interval is written at once, later
 * ones are folded into one trailing write at the end of the interval, so the last offset is
 * always written. The timers are only a rate limiter: the database holds the values, and a node that
 * dies loses nothing a HEAD cannot tell (the stored bytes are the truth).
 *
 * Each write is conditional on the video still uploading and on moving forward, so a late write
 * never undoes a finish, a cancel or a failure, nor moves progress backwards.
 */
export class UploadProgressWriter {
  private readonly db: Db;
  private readonly log: FastifyBaseLogger;
  private readonly uploads = new Map<string, Tracked>();
  private chain: Promise<void> = Promise.resolve();

  constructor(db: Db, log: FastifyBaseLogger) {
    this.db = db;
    this.log = log;
  }

  /** Called for every chunk; cheap unless a write is due. */
  report(videoId: string, size: number, offset: number): void {
    let u = this.uploads.get(videoId);
    if (!u) {
      u = { size, pending: undefined };
      this.uploads.set(videoId, u);
    }
    if (u.timer) {
      u.pending = Math.max(u.pending ?? 0, offset);
      return;
    }
    this.enqueue(videoId, size, offset);
    this.rest(videoId, u);
  }

  /** Starts the quiet interval after a write; a report during it is written when it ends. */
  private rest(videoId: string, u: Tracked): void {
    u.timer = setTimeout(() => {
      u.timer = undefined;
      if (u.pending === undefined) {
        this.uploads.delete(videoId);
        return;
      }
      this.enqueue(videoId, u.size, u.pending);
      u.pending = undefined;
      this.rest(videoId, u);
    }, INTERVAL_MS);
    u.timer.unref();
  }

  /** Writes whatever is pending now (used when stopping). */
  async close(): Promise<void> {
    for (const [videoId, u] of this.uploads) {
      if (u.timer) clearTimeout(u.timer);
      if (u.pending !== undefined) this.enqueue(videoId, u.size, u.pending);
    }
    this.uploads.clear();
    await this.chain;
  }

  private enqueue(videoId: string, size: number, offset: number): void {
    this.chain = this.chain.then(() =>
      this.write(videoId, size, offset).catch((err: unknown) =>
        this.log.warn({ err, videoId }, 'upload progress write failed'),
      ),
    );
  }

  private async write(videoId: string, size: number, offset: number): Promise<void> {
    const progress = size > 0 ? Math.min(100, (offset * 100) / size) : 0;
    await this.db.transaction().execute(async (tx) => {
      // Progress is advisory (HEAD reads the stored bytes): losing the last writes in a database
      // crash is harmless, so the commit need not wait for the WAL flush.
      await sql`SET LOCAL synchronous_commit = off`.execute(tx);
      const row = await tx
        .updateTable('videos')
        .set({
          received_bytes: offset,
          upload_progress: progress,
          updated_at: sql`now()`,
        })
        .where('id', '=', videoId)
        .where('status', '=', 'uploading')
        .where('received_bytes', '<=', String(offset))
        // Only what the event carries: up to 4 rows a second per upload, each parsed in full.
        .returning([
          'id',
          'user_id',
          'project_id',
          'session_id',
          'status',
          'error_code',
          'error_message',
          'upload_progress',
          'updated_at',
        ])
        .executeTakeFirst();
      if (row) await publishUploadEvent(tx, row);
    });
  }
}
