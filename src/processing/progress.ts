import { sql } from 'kysely';
import type { Db, DbOrTx } from '../db/database.ts';
import type { VideoEvent } from '../events/video-event.ts';
import { publishVideoState } from '../videos/status.ts';

/** Who a video's events go to; read once when the job claims the video. */
export interface VideoRef {
  videoId: string;
  userId: string;
  projectId: string;
  sessionId: string | null;
}

/**
 * Publishes the video's state as it is in `tx` (one shape, built in src/videos/status.ts).
 * `kind: 'progress'` marks changes that are no news for webhooks.
 */
export async function publish(tx: DbOrTx, v: VideoRef, kind?: VideoEvent['kind']): Promise<void> {
  await publishVideoState(tx, v.videoId, kind);
}

/** Which state a reporter writes: the steps towards `ready`, or enrichment after it. */
export type Phase = 'playable' | 'enrich';

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
  private pending: { step: string; stepProgress: number; overall: number; eta: number | null } | undefined;
  /** Set by the runner when the video became ready and enrichment steps run. */
  phase: Phase = 'playable';
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

  report(step: string, stepProgress: number, overall: number, etaSeconds?: number): void {
    const eta = etaSeconds !== undefined && Number.isFinite(etaSeconds) ? etaSeconds : null;
    this.pending = { step, stepProgress: clamp(stepProgress), overall: clamp(overall), eta };
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
              ...(this.phase === 'enrich'
                ? { enrichment_step: p.step, enrichment_progress: p.overall, eta_seconds: null }
                : { processing_step: p.step, overall_progress: p.overall, eta_seconds: p.eta }),
              step_progress: p.stepProgress,
              last_progress_update: sql`now()`,
              updated_at: sql`now()`,
            })
            .where('video_id', '=', this.ref.videoId)
            .execute();
          await publish(tx, this.ref, 'progress');
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
