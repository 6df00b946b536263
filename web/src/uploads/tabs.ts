/**
 * Coordination between this app's tabs (same browser profile, same origin).
 *
 * Invariant: at most one tab owns an upload (a video awaiting its bytes). The owner holds the
 * Web Lock `clipdock-upload:<videoId>` for as long as it holds the file: from the moment it has
 * the file and the video id until the upload ends there (complete, canceled, row cleared, tab
 * closed — the browser releases a closed tab's locks by itself). Other tabs see the lock held and
 * show the upload as "uploading in another tab", never as interrupted, and never offer to cancel
 * it. The owner tells the others how far it got over a BroadcastChannel.
 */

export interface TabProgress {
  type: 'progress';
  videoId: string;
  name: string;
  size: number;
  bytesSent: number;
  /** The owner's row state (uploading, paused, ...). */
  state: string;
}
export interface TabEnded {
  type: 'ended';
  videoId: string;
  outcome: 'complete' | 'canceled' | 'released';
}
export type TabMessage = TabProgress | TabEnded;

const LOCK_PREFIX = 'clipdock-upload:';
const CHANNEL = 'clipdock-uploads';

const locks = (): LockManager | undefined => (typeof navigator !== 'undefined' ? navigator.locks : undefined);

export class TabCoordinator {
  private readonly channel: BroadcastChannel | null;
  private readonly held = new Map<string, () => void>();
  private readonly watching = new Set<string>();
  private readonly lastSent = new Map<string, number>();
  private closed = false;
  /** What the other tabs say; set by whoever shows their uploads. */
  onMessage: (m: TabMessage) => void = () => {};

  constructor() {
    this.channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CHANNEL);
    if (this.channel) this.channel.onmessage = (ev: MessageEvent<TabMessage>) => this.onMessage(ev.data);
  }

  /**
   * Takes ownership of the upload of `videoId` if no other tab has it. Resolves true when this
   * tab owns it (already or now), false when another tab does. Without Web Locks (old browsers)
   * every tab owns what it holds a file for, as before.
   */
  async claim(videoId: string): Promise<boolean> {
    if (this.held.has(videoId)) return true;
    const lm = locks();
    if (!lm || this.closed) return !this.closed;
    return new Promise<boolean>((resolve) => {
      void lm
        .request(`${LOCK_PREFIX}${videoId}`, { ifAvailable: true }, (lock) => {
          if (!lock) {
            resolve(false);
            return undefined;
          }
          // Held until release(videoId) or dispose().
          return new Promise<void>((release) => {
            this.held.set(videoId, release);
            resolve(true);
          });
        })
        .catch(() => resolve(false));
    });
  }

  /** Ends this tab's ownership of the upload, telling the other tabs how it ended. */
  release(videoId: string, outcome: TabEnded['outcome']): void {
    const release = this.held.get(videoId);
    if (!release) return;
    this.held.delete(videoId);
    this.lastSent.delete(videoId);
    release();
    this.post({ type: 'ended', videoId, outcome });
  }

  owns(videoId: string): boolean {
    return this.held.has(videoId);
  }

  /** The video ids whose uploads some tab (this one included) owns right now. */
  async owned(): Promise<Set<string>> {
    const lm = locks();
    if (!lm) return new Set(this.held.keys());
    const snapshot = await lm.query().catch(() => ({ held: [] as LockInfo[] }));
    return new Set(
      (snapshot.held ?? [])
        .map((l) => l.name ?? '')
        .filter((n) => n.startsWith(LOCK_PREFIX))
        .map((n) => n.slice(LOCK_PREFIX.length)),
    );
  }

  /**
   * Calls `then` once no tab owns the upload of `videoId` any more (its owner finished, or was
   * closed). Waits in the lock's queue without keeping the lock: the request gives it back at once.
   */
  whenFree(videoId: string, then: () => void): void {
    const lm = locks();
    if (!lm || this.watching.has(videoId)) return;
    this.watching.add(videoId);
    void lm
      .request(`${LOCK_PREFIX}${videoId}`, { mode: 'shared' }, () => undefined)
      .then(() => {
        this.watching.delete(videoId);
        if (!this.closed) then();
      })
      .catch(() => this.watching.delete(videoId));
  }

  /** Tells the other tabs how far an upload this tab owns got; at most about 4 times a second. */
  progress(m: Omit<TabProgress, 'type'>, force = false): void {
    if (!this.held.has(m.videoId)) return;
    const now = Date.now();
    if (!force && now - (this.lastSent.get(m.videoId) ?? 0) < 250) return;
    this.lastSent.set(m.videoId, now);
    this.post({ type: 'progress', ...m });
  }

  private post(m: TabMessage): void {
    try {
      this.channel?.postMessage(m);
    } catch {
      // A closed channel (page going away): nothing to tell.
    }
  }

  dispose(): void {
    this.closed = true;
    for (const id of [...this.held.keys()]) this.release(id, 'released');
    this.channel?.close();
  }
}
