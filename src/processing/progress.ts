import { sql } from 'kysely';
import type { Db, DbOrTx } from '../db/database.ts';
import type { VideoStatus } from '../db/types.ts';
import { publishVideoEvent } from '../events/video-events.ts';

/** Who a video's events go to; read once when the job claims the video. */
export interface VideoRef {
  videoId: string;
  userId: string;
  projectId: string;
  sessionId: string | null;
}

export async function publish(
  tx: DbOrTx,
  v: VideoRef,
  status: VideoStatus,
  step: string | null,
  progress: number,
  error: { code: string; message: string; retryable?: boolean } | null = null,
): Promise<void> {
  await publishVideoEvent(tx, {
    ...v,
    status,
    step,
    progress: Math.round(progress * 10) / 10,
    error,
    updatedAt: new Date().toISOString(),
  });
}

/**
 * Step progress, written at most every `minIntervalMs` (the latest value wins; the last one is
 * always written by `flush`), each write published in its own transaction. Writes are chained, so
 * they reach the database in order. A separate heartbeat keeps `last_progress_update` fresh while
 * a long ffmpeg run reports nothing new, so the recovery sweep can tell a live job from a dead one.
 */
export class ProgressReporter {
  private readonly db: Db;
  private readonly ref: VideoRef;
  private readonly minIntervalMs: number;
  private lastWrite = 0;
  private pending: { step: string; stepProgress: number; overall: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private lastWritten = { step: '', stepProgress: -1 };

  constructor(db: Db, ref: VideoRef, opts: { minIntervalMs: number; heartbeatMs: number }) {
    this.db = db;
    this.ref = ref;
    this.minIntervalMs = opts.minIntervalMs;
    this.heartbeat = setInterval(() => {
      this.chain = this.chain.then(() =>
        this.db
          .updateTable('video_analysis')
          .set({ last_progress_update: sql`now()` })
          .where('video_id', '=', ref.videoId)
          .execute()
          .then(
            () => {},
            () => {},
          ),
      );
    }, opts.heartbeatMs);
    this.heartbeat.unref();
  }

  report(step: string, stepProgress: number, overall: number): void {
    this.pending = { step, stepProgress: clamp(stepProgress), overall: clamp(overall) };
    const wait = this.lastWrite + this.minIntervalMs - Date.now();
    if (wait <= 0) this.write();
    else if (!this.timer) this.timer = setTimeout(() => this.write(), wait);
  }

  private write(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    // Same step and same whole percent as last time: nothing a person would notice.
    if (
      p.step === this.lastWritten.step &&
      Math.floor(p.stepProgress) === Math.floor(this.lastWritten.stepProgress)
    ) {
      return;
    }
    this.lastWritten = { step: p.step, stepProgress: p.stepProgress };
    this.lastWrite = Date.now();
    this.chain = this.chain.then(() =>
      this.db
        .transaction()
        .execute(async (tx) => {
          await tx
            .updateTable('video_analysis')
            .set({
              processing_step: p.step,
              step_progress: p.stepProgress,
              overall_progress: p.overall,
              last_progress_update: sql`now()`,
              updated_at: sql`now()`,
            })
            .where('video_id', '=', this.ref.videoId)
            .execute();
          await publish(tx, this.ref, 'processing', p.step, p.overall);
        })
        // Progress is advisory: a write that failed (a blip of the database) is dropped, never
        // the step's failure. The step's result is written by the runner, which waits out an
        // outage; the heartbeat resumes by itself.
        .catch(() => {}),
    );
  }

  /** Writes what is pending and waits for every write. */
  async flush(): Promise<void> {
    this.write();
    await this.chain;
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    clearTimeout(this.timer);
    this.pending = undefined;
    await this.chain;
  }
}

const clamp = (n: number) => Math.max(0, Math.min(100, Math.round(n * 10) / 10));
