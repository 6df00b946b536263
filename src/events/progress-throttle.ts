import type { ReceivedVideoEvent } from './video-events.ts';

/**
 * Limits how often one video's progress is forwarded: at most one event per `intervalMs` per
 * video, the latest winning. Anything else — a new status, a new step (of the video or of its
 * enrichment), an error, a rename — is
 * forwarded at once and replaces a held progress event of the same video (it carries newer state),
 * so significant changes are never dropped or reordered. Memory: one entry per video that changed
 * within the last interval.
 */
export class ProgressThrottle {
  private readonly intervalMs: number;
  private readonly emit: (event: ReceivedVideoEvent) => void;
  private readonly videos = new Map<
    string,
    { last: ReceivedVideoEvent; lastAt: number; held: ReceivedVideoEvent | undefined; timer: NodeJS.Timeout }
  >();

  constructor(intervalMs: number, emit: (event: ReceivedVideoEvent) => void) {
    this.intervalMs = intervalMs;
    this.emit = emit;
  }

  push(event: ReceivedVideoEvent): void {
    const entry = this.videos.get(event.videoId);
    if (!entry || this.intervalMs <= 0) {
      this.forward(event);
      return;
    }
    if (isSignificant(entry.last, event)) {
      entry.held = undefined;
      this.forward(event);
      return;
    }
    entry.held = event;
  }

  /** Forwards every held event now (used when stopping, so the last progress is not lost). */
  flush(): void {
    for (const [videoId, entry] of this.videos) {
      clearTimeout(entry.timer);
      this.videos.delete(videoId);
      if (entry.held) this.emit(entry.held);
    }
  }

  get size(): number {
    return this.videos.size;
  }

  private forward(event: ReceivedVideoEvent): void {
    const old = this.videos.get(event.videoId);
    if (old) clearTimeout(old.timer);
    const entry = {
      last: event,
      lastAt: Date.now(),
      held: undefined as ReceivedVideoEvent | undefined,
      timer: setTimeout(() => this.tick(event.videoId), this.intervalMs),
    };
    entry.timer.unref();
    this.videos.set(event.videoId, entry);
    this.emit(event);
  }

  /** End of a video's quiet interval: send what was held (and start a new interval), or forget it. */
  private tick(videoId: string): void {
    const entry = this.videos.get(videoId);
    if (!entry) return;
    this.videos.delete(videoId);
    if (entry.held) this.forward(entry.held);
  }
}

function isSignificant(prev: ReceivedVideoEvent, next: ReceivedVideoEvent): boolean {
  return (
    prev.status !== next.status ||
    prev.step !== next.step ||
    // Enrichment (after `ready`) moving to another state or step is news too.
    prev.analysis?.status !== next.analysis?.status ||
    prev.analysis?.step !== next.analysis?.step ||
    next.error !== null ||
    next.name !== undefined ||
    prev.sessionId !== next.sessionId ||
    prev.projectId !== next.projectId
  );
}
