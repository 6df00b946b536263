import { Api, type Video } from '../api.ts';
import { appStore } from '../store.ts';
import { fileFromHandle, handleOf, handleStore } from './handles.ts';
import { mismatchOf } from './identity.ts';
import { type ManagerOptions, UploadManager } from './manager.ts';
import { recordFromServer, unfinishedUploads } from './restore.ts';
import { type ResumeRecord, resumeRecords } from './resume-records.ts';
import { blankRow, type RowState, type UploadRow } from './rows.ts';
import type { TabMessage } from './tabs.ts';
import { serverOffset } from './tus-calls.ts';

const FINISHED = ['uploaded', 'processing', 'ready'];
const ENDED = ['canceled', 'upload_expired', 'failed'];

/**
 * The uploader as the app uses it: the queue (manager.ts) plus the uploads this tab does not
 * hold a file for —
 * - interrupted ones (a reload, a closed tab): the row shows the server's offset and asks for
 *   its own file, which must be the same file (identity.ts) or it is refused on that row;
 * - other tabs' (tabs.ts): shown as running there with their progress, with no action here;
 * - both reconciled with the live status: a video that finished uploading leaves the list of
 *   interrupted uploads, one that was canceled or expired disappears.
 */
export class Uploader extends UploadManager {
  private readonly unwatch: () => void;

  constructor(opts: ManagerOptions) {
    super(opts);
    this.tabs.onMessage = (m) => this.onTabMessage(m);
    this.unwatch = appStore.subscribe(() => this.reconcile(appStore.get().videos));
  }

  override dispose(): void {
    this.unwatch();
    super.dispose();
  }

  /** Lists unfinished uploads that this tab has no file for: interrupted, or another tab's. */
  async restore(): Promise<void> {
    const [recs, owned] = await Promise.all([unfinishedUploads(), this.tabs.owned()]);
    void handleStore.prune(new Set(recs.map((r) => r.videoId)));
    for (const rec of recs) this.showForeign(rec, owned.has(rec.videoId));
    for (const r of this.rows()) if (r.state === 'awaiting_file') void this.reopen(r.key, false);
  }

  /**
   * Continues an interrupted upload from the file handle kept for it (handles.ts), without a
   * pick: at once when the browser still grants reading it; with `ask` (a click on the row's
   * "Continue") after asking for permission. The file read is checked like a picked one.
   */
  async reopen(key: string, ask: boolean): Promise<void> {
    const rec = this.records.get(key);
    if (!rec || this.row(key)?.state !== 'awaiting_file') return;
    const handle = await handleStore.load(rec.videoId);
    if (!handle) return;
    const file = await fileFromHandle(handle, ask);
    if (this.row(key)?.state !== 'awaiting_file') return;
    if (file) return this.pickFor(key, file);
    this.update(key, {
      reopenable: !ask,
      ...(ask ? { reason: `“${rec.name}” could not be read again. Choose the file to continue.` } : {}),
    });
  }

  private showForeign(
    rec: ResumeRecord,
    elsewhere: boolean,
    bytesSent = rec.bytesSent,
  ): UploadRow | undefined {
    if (this.rows().some((r) => r.videoId === rec.videoId)) return undefined;
    const key = this.nextKey('r');
    this.records.set(key, rec);
    const row: UploadRow = {
      ...blankRow(key, rec.name, rec.size),
      state: elsewhere ? 'elsewhere' : 'awaiting_file',
      videoId: rec.videoId,
      bytesSent,
    };
    this.addRows([row]);
    if (elsewhere) this.tabs.whenFree(rec.videoId, () => void this.ownerGone(key));
    else void this.showServerOffset(key, rec);
    return row;
  }

  /** An interrupted row shows what the server holds (HEAD), not 0 % or a stale local count. */
  private async showServerOffset(key: string, rec: ResumeRecord): Promise<void> {
    if (!rec.uploadUrl) return;
    const offset = await serverOffset(rec.uploadUrl);
    if (offset !== null && this.row(key)?.state === 'awaiting_file') this.update(key, { bytesSent: offset });
  }

  /** The tab that owned this upload let go of it (finished, or closed): look at where it stands. */
  private async ownerGone(key: string): Promise<void> {
    const row = this.row(key);
    const rec = this.records.get(key);
    if (row?.state !== 'elsewhere' || !rec) return;
    const status = await Api.videoStatus([rec.videoId])
      .then((r) => r.videos[0]?.status)
      .catch(() => undefined);
    if (status && FINISHED.includes(status)) this.update(key, { state: 'complete', bytesSent: row.size });
    else if (status === 'pending_upload' || status === 'uploading') {
      const fresh = resumeRecords.all().find((r) => r.videoId === rec.videoId) ?? rec;
      this.records.set(key, fresh);
      this.update(key, { state: 'awaiting_file' });
      void this.showServerOffset(key, fresh);
      void this.reopen(key, false);
    } else this.removeRow(key);
  }

  private onTabMessage(m: TabMessage): void {
    const row = this.rows().find((r) => r.videoId === m.videoId);
    if (m.type === 'progress') {
      if (!row) {
        const rec =
          resumeRecords.all().find((r) => r.videoId === m.videoId) ??
          recordFromServer({ id: m.videoId, name: m.name, size: m.size, status: 'uploading' });
        this.showForeign(rec, true, m.bytesSent);
      } else if (row.state === 'elsewhere' || row.state === 'awaiting_file') {
        this.update(row.key, {
          bytesSent: m.bytesSent,
          remoteState: m.state as RowState,
          ...(row.state === 'elsewhere' ? {} : { state: 'elsewhere' }),
        });
        if (row.state === 'awaiting_file') this.tabs.whenFree(m.videoId, () => void this.ownerGone(row.key));
      }
      return;
    }
    if (row?.state !== 'elsewhere') return;
    if (m.outcome === 'complete') this.update(row.key, { state: 'complete', bytesSent: row.size });
    else if (m.outcome === 'canceled') this.removeRow(row.key);
    else void this.ownerGone(row.key);
  }

  private reconcile(videos: Record<string, Video>): void {
    for (const r of this.rows()) {
      if (!r.videoId || !['awaiting_file', 'elsewhere'].includes(r.state)) continue;
      const status = videos[r.videoId]?.status;
      if (!status) continue;
      if (FINISHED.includes(status)) {
        resumeRecords.remove(r.videoId);
        if (r.state === 'awaiting_file') this.removeRow(r.key);
        else this.update(r.key, { state: 'complete', bytesSent: r.size });
      } else if (ENDED.includes(status)) {
        resumeRecords.remove(r.videoId);
        this.removeRow(r.key);
      }
    }
  }

  /**
   * Files dropped or chosen in the general picker: one with the name and size of an interrupted
   * upload is taken as that upload's file (and checked like one); the rest are new uploads.
   */
  async addFiles(list: File[]): Promise<void> {
    const fresh: File[] = [];
    const picks: Promise<unknown>[] = [];
    for (const file of list) {
      const waiting = this.rows().find(
        (r) =>
          r.state === 'awaiting_file' &&
          r.name === file.name &&
          r.size === file.size &&
          !this.files.has(r.key),
      );
      if (waiting) {
        this.files.set(waiting.key, file);
        picks.push(this.pickFor(waiting.key, file));
      } else fresh.push(file);
    }
    await Promise.all([...picks, this.addNewFiles(fresh)]);
  }

  /**
   * The file picked for one interrupted row. A different file (name, size, last-modified,
   * fingerprint) is refused on the row, which keeps waiting; it never starts a new upload.
   */
  async pickFor(key: string, file: File): Promise<void> {
    const row = this.row(key);
    const rec = this.records.get(key);
    if (!row || !rec || row.state !== 'awaiting_file') return;
    this.files.set(key, file);
    this.update(key, { state: 'checking', reason: null });
    const why = await mismatchOf(file, rec);
    if (why) {
      this.files.delete(key);
      this.update(key, { state: 'awaiting_file', reason: why });
      return;
    }
    if (!(await this.tabs.claim(rec.videoId))) {
      this.files.delete(key);
      this.update(key, { state: 'elsewhere' });
      this.tabs.whenFree(rec.videoId, () => void this.ownerGone(key));
      return;
    }
    // A file picked or dropped with a handle: the next reload can read it again by itself.
    const handle = handleOf(file);
    if (handle) void handleStore.save(rec.videoId, handle);
    this.update(key, { state: 'queued', reason: null });
    this.pump();
  }
}
