import * as tus from 'tus-js-client';
import type { UploadLimits } from '../api.ts';
import { Api, ApiError, type Video } from '../api.ts';
import { createStore, mergeVideos } from '../store.ts';
import { extensionOf, precheckFile } from './precheck.ts';
import { type ResumeRecord, resumeRecords } from './resume-records.ts';

export type RowState =
  | 'checking'
  | 'refused'
  | 'queued'
  | 'uploading'
  | 'retrying'
  | 'paused'
  | 'offline'
  | 'complete'
  | 'failed'
  | 'canceled'
  | 'skipped'
  | 'awaiting_file';

export interface UploadRow {
  key: string;
  name: string;
  size: number;
  state: RowState;
  bytesSent: number;
  /** Bytes per second, smoothed; 0 when not sending. */
  speed: number;
  /** Why the file was refused or failed, in words a person can act on. */
  reason: string | null;
  videoId: string | null;
  container: string | null;
  /** The offset the server had when this upload continued after a reload, if it did. */
  resumedFrom: number | null;
  retryAttempt: number;
}

export interface UploadState {
  rows: UploadRow[];
  /** The browser reports no network. */
  offline: boolean;
  concurrency: number;
}

/** Unfinished states: the row still has bytes to send. */
export const ACTIVE_STATES: RowState[] = ['checking', 'queued', 'uploading', 'retrying', 'paused', 'offline'];

const MiB = 1024 * 1024;
/** The tus endpoint, when no upload session of this page named it (they all name the same one). */
const TUS_ENDPOINT = '/api/uploads';

/**
 * The upload queue: pre-checks files in the browser, creates one upload session per batch, then
 * sends files over tus (tus-js-client) with at most `concurrency` at a time in `chunkSize` chunks.
 * Each upload's URL is saved in localStorage under its video id, so a reload can continue it from
 * the server's offset once the person picks the same file again. Retries back off exponentially
 * with jitter; when the browser goes offline, uploads wait for the `online` event instead of
 * burning their retries.
 */
export class UploadManager {
  readonly store = createStore<UploadState>({ rows: [], offline: !navigator.onLine, concurrency: 3 });
  private readonly files = new Map<string, File>();
  private readonly uploads = new Map<string, tus.Upload>();
  private readonly records = new Map<string, ResumeRecord>();
  private readonly lastSample = new Map<string, { at: number; bytes: number }>();
  private readonly chunkSize: number;
  private readonly getProjectId: () => string | null;
  private readonly getFreeBytes: () => number;
  private readonly getLimits: () => UploadLimits | undefined;
  private seq = 0;
  private disposed = false;

  constructor(opts: {
    concurrency?: number;
    chunkSize?: number;
    getProjectId: () => string | null;
    getFreeBytes: () => number;
    /** The server's limits (from /api/me); until they are known only the content is checked here. */
    getLimits: () => UploadLimits | undefined;
  }) {
    this.store.set({ concurrency: opts.concurrency ?? 3 });
    this.chunkSize = opts.chunkSize ?? 10 * MiB;
    this.getProjectId = opts.getProjectId;
    this.getFreeBytes = opts.getFreeBytes;
    this.getLimits = opts.getLimits;
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
  }

  private rows = () => this.store.get().rows;
  private row = (key: string) => this.rows().find((r) => r.key === key);
  private update(key: string, patch: Partial<UploadRow>): void {
    this.store.set((s) => ({ rows: s.rows.map((r) => (r.key === key ? { ...r, ...patch } : r)) }));
  }

  /**
   * Lists the uploads a previous page left unfinished: those this browser kept a record of (and
   * the server still expects), and those the server knows but this browser has no record of
   * (another tab, cleared storage). tus names each upload after its video, so the latter resume
   * at `<endpoint>/<videoId>`; if the server has no such upload yet, tus creates it there.
   */
  async restore(): Promise<void> {
    let saved = resumeRecords.all();
    let statuses: Array<{ id: string; status: string }> = [];
    let serverOpen: Video[] = [];
    try {
      [statuses, serverOpen] = await Promise.all([
        saved.length ? Api.videoStatus(saved.map((r) => r.videoId)).then((r) => r.videos) : [],
        Api.videos({ status: 'pending_upload,uploading', limit: 50 }).then((r) => r.videos),
      ]);
    } catch {
      return;
    }
    const open = new Map(statuses.map((v) => [v.id, v.status]));
    for (const rec of saved) {
      const status = open.get(rec.videoId);
      if (status !== 'pending_upload' && status !== 'uploading') resumeRecords.remove(rec.videoId);
    }
    saved = saved.filter(
      (r) => open.get(r.videoId) === 'pending_upload' || open.get(r.videoId) === 'uploading',
    );
    const endpoint = saved[0]?.endpoint ?? TUS_ENDPOINT;
    for (const v of serverOpen) {
      if (saved.some((r) => r.videoId === v.id)) continue;
      saved.push({
        videoId: v.id,
        projectId: v.projectId ?? '',
        name: v.name,
        size: v.size ?? 0,
        lastModified: 0,
        type: v.mimeType ?? '',
        endpoint,
        metadata: { videoId: v.id, filename: v.name, filetype: v.mimeType ?? '' },
        uploadUrl: v.status === 'uploading' ? `${new URL(endpoint, location.href).href}/${v.id}` : null,
        bytesSent: Math.round(((v.progress ?? 0) / 100) * (v.size ?? 0)),
        savedAt: Date.now(),
      });
      resumeRecords.put(saved[saved.length - 1]!);
    }
    const rows: UploadRow[] = [];
    for (const rec of saved) {
      if (this.rows().some((r) => r.videoId === rec.videoId)) continue;
      const key = `r${++this.seq}`;
      this.records.set(key, rec);
      rows.push({
        ...blankRow(key, rec.name, rec.size),
        state: 'awaiting_file',
        videoId: rec.videoId,
        bytesSent: rec.bytesSent,
      });
    }
    if (rows.length) this.store.set((s) => ({ rows: [...s.rows, ...rows] }));
  }

  /** Checks the files, matches re-picked ones to unfinished uploads, and queues the rest in one new session. */
  async addFiles(list: File[]): Promise<void> {
    const projectId = this.getProjectId();
    if (!projectId || !list.length) return;
    const added = list.map((file) => {
      const key = `f${++this.seq}`;
      this.files.set(key, file);
      return { key, file };
    });
    const fresh: typeof added = [];
    const newRows: UploadRow[] = [];
    for (const a of added) {
      const waiting = this.rows().find(
        (r) => r.state === 'awaiting_file' && r.name === a.file.name && r.size === a.file.size,
      );
      if (waiting) {
        this.files.delete(a.key);
        this.files.set(waiting.key, a.file);
        this.update(waiting.key, { state: 'queued' });
      } else {
        fresh.push(a);
        newRows.push({ ...blankRow(a.key, a.file.name, a.file.size), state: 'checking' });
      }
    }
    this.store.set((s) => ({ rows: [...s.rows, ...newRows] }));

    const free = this.getFreeBytes();
    const limits = this.getLimits();
    const checks = await Promise.all(
      fresh.map((a) =>
        precheckFile(a.file, {
          maxBytes: limits?.maxFileBytes ?? Number.POSITIVE_INFINITY,
          freeBytes: free,
          extensions: limits?.acceptedExtensions ?? [extensionOf(a.file.name)],
        }),
      ),
    );
    const accepted: typeof added = [];
    fresh.forEach((a, i) => {
      const c = checks[i]!;
      if (c.ok) {
        accepted.push(a);
        this.update(a.key, { container: c.container });
      } else {
        this.files.delete(a.key);
        this.update(a.key, { state: 'refused', reason: c.reason });
      }
    });

    if (accepted.length) await this.openSession(projectId, accepted);
    this.pump();
  }

  /** One upload session for a batch: the server creates every video row, then the files queue. */
  private async openSession(projectId: string, accepted: Array<{ key: string; file: File }>): Promise<void> {
    try {
      const session = await Api.createUploadSession(
        projectId,
        accepted.map((a) => ({ name: a.file.name, size: a.file.size, type: a.file.type })),
      );
      accepted.forEach((a, i) => {
        const f = session.files[i]!;
        const rec: ResumeRecord = {
          videoId: f.videoId,
          projectId,
          name: a.file.name,
          size: a.file.size,
          lastModified: a.file.lastModified,
          type: a.file.type,
          endpoint: f.upload.endpoint,
          metadata: f.upload.metadata,
          uploadUrl: null,
          bytesSent: 0,
          savedAt: Date.now(),
        };
        this.records.set(a.key, rec);
        resumeRecords.put(rec);
        this.update(a.key, { state: 'queued', videoId: f.videoId });
        mergeVideos([
          { id: f.videoId, name: a.file.name, status: 'pending_upload', projectId, size: a.file.size },
        ]);
      });
    } catch (err) {
      const reason = err instanceof ApiError ? err.message : 'The upload could not start. Try again.';
      // Files are kept: Retry asks for a new session for them.
      for (const a of accepted) this.update(a.key, { state: 'failed', reason });
    }
  }

  /** Starts queued uploads while fewer than `concurrency` are sending. */
  private pump(): void {
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
    this.lastSample.delete(key);
    let upload = this.uploads.get(key);
    if (!upload) {
      upload = new tus.Upload(file, {
        endpoint: rec.endpoint,
        uploadUrl: rec.uploadUrl,
        metadata: rec.metadata,
        chunkSize: this.chunkSize,
        retryDelays: backoff(),
        // Authenticated by the session cookie: the endpoint is this app's own origin.
        storeFingerprintForResuming: false,
        onUploadUrlAvailable: () => {
          rec.uploadUrl = upload!.url;
          resumeRecords.patch(rec.videoId, { uploadUrl: upload!.url });
        },
        onProgress: (sent) => this.onProgress(key, sent),
        onAfterResponse: (req, res) => {
          // A HEAD answers "how much do you have?": that offset is where this upload continues.
          if (req.getMethod() !== 'HEAD') return;
          const offset = Number(res.getHeader('Upload-Offset'));
          if (Number.isFinite(offset)) this.update(key, { resumedFrom: offset, bytesSent: offset });
        },
        onChunkComplete: (_c, accepted) => resumeRecords.patch(rec.videoId, { bytesSent: accepted }),
        onShouldRetry: (err, attempt) => {
          if (!navigator.onLine) return false;
          const status = err.originalResponse?.getStatus() ?? 0;
          if (status >= 400 && status < 500 && ![408, 409, 423, 429].includes(status)) return false;
          this.update(key, { state: 'retrying', retryAttempt: attempt + 1, speed: 0 });
          return true;
        },
        onError: (err) => this.onError(key, err),
        onSuccess: () => this.onSuccess(key),
      });
      this.uploads.set(key, upload);
    }
    upload.start();
  }

  private onProgress(key: string, sent: number): void {
    const now = performance.now();
    const row = this.row(key);
    if (!row) return;
    const last = this.lastSample.get(key);
    let speed = row.speed;
    if (!last) this.lastSample.set(key, { at: now, bytes: sent });
    else if (now - last.at >= 250) {
      const inst = ((sent - last.bytes) * 1000) / (now - last.at);
      speed = speed ? speed * 0.7 + inst * 0.3 : inst;
      this.lastSample.set(key, { at: now, bytes: sent });
    }
    this.update(key, { bytesSent: sent, speed, state: row.state === 'retrying' ? 'uploading' : row.state });
  }

  private onSuccess(key: string): void {
    const rec = this.records.get(key);
    if (rec) resumeRecords.remove(rec.videoId);
    this.files.delete(key);
    this.uploads.delete(key);
    this.lastSample.delete(key);
    const row = this.row(key);
    this.update(key, { state: 'complete', bytesSent: row?.size ?? 0, speed: 0 });
    if (rec) mergeVideos([{ id: rec.videoId, status: 'uploaded' }]);
    this.pump();
  }

  private onError(key: string, err: Error): void {
    const row = this.row(key);
    if (!row || row.state === 'paused' || row.state === 'canceled' || row.state === 'skipped') return;
    if (!navigator.onLine) {
      this.update(key, { state: 'offline', speed: 0 });
      this.store.set({ offline: true });
    } else {
      this.update(key, { state: 'failed', speed: 0, reason: reasonOf(err) });
    }
    this.pump();
  }

  private readonly onOffline = () => {
    this.store.set({ offline: true });
  };

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
    if (!row || !['failed', 'skipped', 'offline'].includes(row.state)) return;
    const file = this.files.get(key);
    if (!file) return;
    if (!this.records.has(key)) {
      // The session was refused (credits, quota, ...): ask for a new one for this file.
      const projectId = this.getProjectId();
      if (!projectId) return;
      this.update(key, { state: 'checking', reason: null });
      void this.openSession(projectId, [{ key, file }]).then(() => this.pump());
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

  /** Stops the file for good: the partial upload and its video are deleted on the server. */
  cancel(key: string): void {
    const row = this.row(key);
    if (!row || row.state === 'complete' || row.state === 'canceled' || row.state === 'refused') return;
    this.update(key, { state: 'canceled', speed: 0 });
    const upload = this.uploads.get(key);
    this.uploads.delete(key);
    this.files.delete(key);
    const rec = this.records.get(key);
    if (rec) resumeRecords.remove(rec.videoId);
    const done = upload ? upload.abort(true).catch(() => {}) : Promise.resolve();
    if (row.videoId) {
      const id = row.videoId;
      void done.then(() => Api.deleteVideo(id).catch(() => {}));
    }
    this.pump();
  }

  pauseAll(): void {
    for (const r of this.rows())
      if (['uploading', 'retrying', 'queued', 'offline'].includes(r.state)) this.pause(r.key);
  }

  resumeAll(): void {
    for (const r of this.rows()) if (r.state === 'paused') this.update(r.key, { state: 'queued' });
    this.pump();
  }

  cancelRemaining(): void {
    for (const r of this.rows())
      if (ACTIVE_STATES.includes(r.state) || r.state === 'awaiting_file') this.cancel(r.key);
  }

  /** Removes finished, refused and canceled rows from the list. */
  clearFinished(): void {
    const gone = this.rows().filter((r) => ['complete', 'refused', 'canceled'].includes(r.state));
    for (const r of gone) {
      this.files.delete(r.key);
      this.records.delete(r.key);
    }
    this.store.set((s) => ({ rows: s.rows.filter((r) => !gone.includes(r)) }));
  }
}

function blankRow(key: string, name: string, size: number): UploadRow {
  return {
    key,
    name,
    size,
    state: 'queued',
    bytesSent: 0,
    speed: 0,
    reason: null,
    videoId: null,
    container: null,
    resumedFrom: null,
    retryAttempt: 0,
  };
}

/** 1 s, 2 s, 4 s ... 30 s, each scaled by a random factor in [0.5, 1.5) so clients don't retry in lockstep. */
function backoff(): number[] {
  return [1000, 2000, 4000, 8000, 16000, 30000, 30000].map((d) => Math.round(d * (0.5 + Math.random())));
}

function reasonOf(err: Error): string {
  const body = (err as tus.DetailedError).originalResponse?.getBody();
  if (body) {
    try {
      const parsed = JSON.parse(body) as { error?: { message?: string } };
      if (parsed.error?.message) return parsed.error.message;
    } catch {
      if (body.length < 200) return body;
    }
  }
  return 'The upload stopped after several attempts. Check your connection and press Retry.';
}
