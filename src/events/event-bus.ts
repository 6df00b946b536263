import type { ReceivedVideoEvent } from './video-events.ts';

/**
 * What an API node hears about videos. `event`: one change (progress already throttled).
 * `resync`: the node may have missed events (its listener connection was lost and is back);
 * subscribers must re-read the state they care about from the database.
 */
export type BusMessage = { kind: 'event'; event: ReceivedVideoEvent } | { kind: 'resync' };

export type BusSubscriber = (message: BusMessage) => void;

/** The port for live video events; `PgEventBus` (LISTEN/NOTIFY) is the implementation. */
export interface VideoEventBus {
  /** Resolves once the node is listening, so nothing committed afterwards is missed. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Adds a subscriber; returns its removal. Subscribers run synchronously and must not throw. */
  subscribe(subscriber: BusSubscriber): () => void;
  /** The backend pid of the listening connection (diagnostics and tests), when connected. */
  readonly listenerPid: number | undefined;
}
