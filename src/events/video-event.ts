import type { VideoStatus } from '../db/types.ts';

/**
 * A change of one video, as every node and browser sees it. Kept small: pg_notify payloads are
 * limited to 8000 bytes, and the WebSocket forwards this as-is (plus `type` and `seq`).
 */
export interface VideoEvent {
  videoId: string;
  userId: string;
  projectId: string;
  sessionId: string | null;
  status: VideoStatus | 'deleted';
  step: string | null;
  progress: number;
  /** `retryable`: whether POST /api/videos/:id/retry may run it again (failed videos). */
  error: { code: string; message: string; retryable?: boolean } | null;
  updatedAt: string;
  /** Set when the name changed (rename); otherwise clients keep the name they have. */
  name?: string;
  /** Enrichment state (absent in events of older nodes, and of deleted videos). */
  analysis?: {
    status: 'pending' | 'running' | 'ready' | 'failed';
    step: string | null;
    progress: number;
    error: { code: string; message: string } | null;
  } | null;
  /** Seconds the running step still needs (transcodes), when known. */
  etaSeconds?: number | null;
  /**
   * What the change announces to webhooks (never sent to clients): `progress` is not news
   * (a step advanced, enrichment started); `analysis.ready` announces `video.analysis.ready`.
   * Absent: the status is announced (src/webhooks/events.ts).
   */
  kind?: 'progress' | 'analysis.ready';
}

/**
 * An event as a listener receives it: `xid` is the id of the transaction that published it, so
 * a reader can tell whether a database snapshot it took already reflects this change
 * (see `src/events/snapshot.ts`).
 */
export interface ReceivedVideoEvent extends VideoEvent {
  xid: string | undefined;
}
