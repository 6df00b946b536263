import type * as tus from 'tus-js-client';
import type { UploadLimits } from '../api.ts';
import { createStore, mergeVideos } from '../store.ts';
import type { BatchFile } from './batching.ts';
import { handleStore } from './handles.ts';
import { openFor, queueNewFiles } from './intake.ts';
import { type ResumeRecord, resumeRecords } from './resume-records.ts';
import { ACTIVE_STATES, tabView, type UploadRow, type UploadState } from './rows.ts';
import { SpeedMeter } from './speed.ts';
import { TabCoordinator } from './tabs.ts';
import { terminateUpload, uploadUrlOf } from './tus-calls.ts';
import { createTusUpload, reasonOf } from './tus-upload.ts';

export { ACTIVE_STATES, type RowState, type UploadRow, type UploadState } from './rows.ts';

const MiB = 1024 * 1024;

export interface ManagerOptions {
  concurrency?: number;
  chunkSize?: number;
  getProjectId: () => string | null;
  getFreeBytes: () => number;
  /** The server's limits (from /api/me); until they are known only the content is checked here. */
  getLimits: () => UploadLimits | undefined;
}

/**
 * The upload queue of this tab: pre-checks files in the browser, opens upload sessions of the
 * server's size (batching.ts), then sends files over tus with at most `concurrency` at a time.
 * This tab owns (tabs.ts) every upload it holds a file for; each upload's resume record
 * (resume-records.ts) lets a reload continue it. Retries back off exponentially with jitter;
 * offline, uploads wait for the `online` event instead of burning their retries.
 *
 * Invariant: no action here deletes a video. Cancel is tus termination, which the server
 * refuses for an upload that finished (UPLOAD_ALREADY_FINISHED); deleting a video is the
 * library's explicit action.
 *
 * Interrupted uploads, other tabs' uploads and live-status reconciliation: interrupted.ts.
 */
export class UploadManager {
  readonly store = createStore<UploadState>({ rows: [], offline: !navigator.onLine, concurrency: 3 });
  readonly tabs: TabCoordinator;
  /** The File of each row this tab can send. */
  readonly files = new Map<string, File>();
  readonly records = new Map<string, ResumeRecord>();
  readonly held = new Map<string, BatchFile>();
  private readonly uploads = new Map<string, tus.Upload>();
  private readonly speed = new SpeedMeter();
  private seq = 0;
  private disposed = false;

  readonly opts: ManagerOptions;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.store.set({ concurrency: opts.concurrency ?? 3 });
    this.tabs = new TabCoordinator();
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
  }

  dispose(): void {
    this.disposed = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    for (const u of this.uploads.values()) void u.abort();
    this.uploads.clear();
    this.files.clear();
    this.tabs.dispose();
  }

  nextKey = (prefix: string) => `${prefix}${++this.seq}`;
  rows = () => this.store.get().rows;
  row = (key: string) => this.rows().find((r) => r.key === key);
  update(key: string, patch: Partial<UploadRow>): void {
    this.store.set((s) => ({ rows: s.rows.map((r) => (r.key === key ? { ...r, ...patch } : r)) }));
    const row = patch.state ? this.row(key) : undefined;
    if (row?.videoId) this.tabs.progress({ ...tabView(row) }, true);
  }
  addRows(rows: UploadRow[]): void {
    if (rows.length) this.store.set((s) => ({ rows: [...s.rows, ...rows] }));
  }
  removeRow(key: string): void {
    this.files.delete(key);
    this.records.delete(key);
    this.held.delete(key);
    this.store.set((s) => ({ rows: s.rows.filter((r) => r.key !== key) }));
  }

  /** Checks new files and queues them in as many upload sessions as the server's limit needs. */
  addNewFiles(list: File[]): Promise<void> {
    return queueNewFiles(this, list);
  }

  /** Asks for upload sessions for files whose checks passed (again, for Retry after a refusal). */
  open(projectId: string, files: BatchFile[], perSession?: number): Promise<void> {
    return openFor(this, projectId, files, perSession);
  }

  /** Starts queued uploads while fewer than `concurrency` are sending. */
  pump(): void {
    if (this.disposed) return;
    const sending = this.rows().filter((r) => r.state === 'uploading' || r.state === 'retrying').length;
    let free = this.store.get().concurrency - sending;
    for (const r of this.rows()) {
      if (free <= 0) break;
      if (r.state !== 'queued') continue;
      free -= 1;
      this.start(r.key);
    }
  }

  private start(key: string): void {
    const file = this.files.get(key);
    const rec = this.records.get(key);
    if (!file || !rec) return;
    this.update(key, { state: 'uploading', reason: null, speed: 0 });
    this.speed.forget(key);
    let upload = this.uploads.get(key);
    if (!upload) {
      upload = createTusUpload(file, rec, this.chunkBytes(), {
        progress: (sent) => this.onProgress(key, sent),
        serverOffset: (offset) => this.update(key, { resumedFrom: offset, bytesSent: offset }),
        shouldRetry: (attempt) => {
          this.update(key, { state: 'retrying', retryAttempt: attempt + 1, speed: 0 });
          return true;
        },
        error: (err) => this.onError(key, err),
        success: () => this.onSuccess(key),
      });
      this.uploads.set(key, upload);
    }
    upload.start();
  }

  /** `?chunkKiB=` first, then the server's suggestion (whole S3 parts), else 10 MiB. */
  private chunkBytes(): number {
    return this.opts.chunkSize ?? this.opts.getLimits()?.uploadChunkBytes ?? 10 * MiB;
  }

  private onProgress(key: string, sent: number): void {
    const row = this.row(key);
    if (!row) return;
    const speed = this.speed.sample(key, sent, row.speed);
    const state = row.state === 'retrying' ? 'uploading' : row.state;
    this.update(key, { bytesSent: sent, speed, ...(state !== row.state ? { state } : {}) });
    if (row.videoId) this.tabs.progress(tabView({ ...row, bytesSent: sent, state }));
  }

  private onSuccess(key: string): void {
    const rec = this.records.get(key);
    this.files.delete(key);
    this.uploads.delete(key);
    this.speed.forget(key);
    const row = this.row(key);
    this.update(key, { state: 'complete', bytesSent: row?.size ?? 0, speed: 0 });
    if (rec) {
      resumeRecords.remove(rec.videoId);
      void handleStore.forget(rec.videoId);
      this.tabs.release(rec.videoId, 'complete');
      mergeVideos([{ id: rec.videoId, status: 'uploaded' }]);
    }
    this.pump();
  }

  private onError(key: string, err: Error): void {
    const row = this.row(key);
    if (!row || ['paused', 'canceled', 'skipped', 'complete'].includes(row.state)) return;
    if (!navigator.onLine) {
      this.update(key, { state: 'offline', speed: 0 });
      this.store.set({ offline: true });
    } else {
      this.update(key, { state: 'failed', speed: 0, reason: reasonOf(err) });
    }
    this.pump();
  }

  private readonly onOffline = () => this.store.set({ offline: true });
  private readonly onOnline = () => {
    this.store.set({ offline: false });
    this.retryNow();
  };

  /** Restarts every upload that is waiting for the network, now. */
  retryNow(): void {
    for (const r of this.rows()) if (r.state === 'offline') this.update(r.key, { state: 'queued' });
    this.pump();
  }

  pause(key: string): void {
    const row = this.row(key);
    if (!row || !['uploading', 'retrying', 'queued', 'offline'].includes(row.state)) return;
    this.update(key, { state: 'paused', speed: 0 });
    void this.uploads.get(key)?.abort();
    this.pump();
  }

  resume(key: string): void {
    if (this.row(key)?.state !== 'paused') return;
    this.update(key, { state: 'queued' });
    this.pump();
  }

  retry(key: string): void {
    const row = this.row(key);
    const file = this.files.get(key);
    if (!row || !file || !['failed', 'skipped', 'offline'].includes(row.state)) return;
    if (!this.records.has(key)) {
      // The session was refused (credits, quota, ...): ask for a new one for this file.
      const projectId = this.opts.getProjectId();
      if (!projectId) return;
      this.update(key, { state: 'checking', reason: null });
      void this.open(projectId, [{ key, file }]);
      return;
    }
    this.update(key, { state: 'queued', reason: null, retryAttempt: 0 });
    this.pump();
  }

  /** Sets a file aside (still resumable later with Retry) so the rest of the queue moves on. */
  skip(key: string): void {
    const row = this.row(key);
    if (!row || !(ACTIVE_STATES.includes(row.state) || row.state === 'failed')) return;
    this.update(key, { state: 'skipped', speed: 0 });
    void this.uploads.get(key)?.abort();
    this.pump();
  }

  /**
   * Ends an unfinished upload of this tab (or an interrupted one no tab owns) with tus
   * termination. An upload that finished meanwhile is kept: the row shows it uploaded.
   */
  async cancel(key: string): Promise<void> {
    const row = this.row(key);
    if (
      !row ||
      !(ACTIVE_STATES.includes(row.state) || ['failed', 'skipped', 'awaiting_file'].includes(row.state))
    )
      return;
    const rec = this.records.get(key);
    const upload = this.uploads.get(key);
    this.uploads.delete(key);
    this.update(key, { state: 'canceled', speed: 0 });
    this.pump();
    await upload?.abort().catch(() => {});
    if (!rec) {
      this.files.delete(key);
      return;
    }
    if (!(await this.tabs.claim(rec.videoId))) {
      this.update(key, { state: 'elsewhere' });
      return;
    }
    const outcome = await terminateUpload(rec.uploadUrl ?? uploadUrlOf(rec.endpoint, rec.videoId));
    if (outcome.ended || outcome.finished) void handleStore.forget(rec.videoId);
    if (outcome.ended) {
      this.files.delete(key);
      resumeRecords.remove(rec.videoId);
      this.tabs.release(rec.videoId, 'canceled');
    } else if (outcome.finished) {
      this.files.delete(key);
      resumeRecords.remove(rec.videoId);
      this.tabs.release(rec.videoId, 'complete');
      this.update(key, { state: 'complete', bytesSent: row.size, reason: outcome.message });
    } else {
      this.update(key, { state: 'failed', reason: outcome.message });
    }
  }

  pauseAll(): void {
    for (const r of this.rows())
      if (['uploading', 'retrying', 'queued', 'offline'].includes(r.state)) this.pause(r.key);
  }

  resumeAll(): void {
    for (const r of this.rows()) if (r.state === 'paused') this.update(r.key, { state: 'queued' });
    this.pump();
  }

  /** Cancels this tab's unfinished uploads and the interrupted ones; never another tab's. */
  cancelRemaining(): void {
    for (const r of this.rows())
      if (ACTIVE_STATES.includes(r.state) || r.state === 'awaiting_file') void this.cancel(r.key);
  }

  /** Removes finished, refused and canceled rows from the list. */
  clearFinished(): void {
    for (const r of this.rows())
      if (['complete', 'refused', 'canceled'].includes(r.state)) this.removeRow(r.key);
  }

  /** Bytes this tab still has to send: a reason to warn before the page is left. */
  bytesRemaining(): number {
    return this.rows()
      .filter((r) => ACTIVE_STATES.includes(r.state))
      .reduce((a, r) => a + Math.max(0, r.size - r.bytesSent), 0);
  }
}
