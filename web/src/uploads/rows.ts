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
  | 'awaiting_file'
  /** Another tab of this browser owns the upload (tabs.ts); this one only shows its progress. */
  | 'elsewhere'
  /** This user uploaded the same file before (duplicates.ts): held until "Upload anyway" or "Skip". */
  | 'duplicate';

export interface UploadRow {
  key: string;
  name: string;
  size: number;
  state: RowState;
  /** Bytes sent; for an interrupted upload, the offset the server holds. */
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
  /** For an `elsewhere` row: the owner tab's row state (uploading, paused, offline, ...). */
  remoteState?: RowState;
  /** For an `awaiting_file` row: a file handle is kept, reading it needs the person's permission. */
  reopenable?: boolean;
  /** For a `duplicate` row: the video this file was uploaded as already. */
  duplicateOf?: { videoId: string; name: string; status: string };
}

export interface UploadState {
  rows: UploadRow[];
  /** The browser reports no network. */
  offline: boolean;
  concurrency: number;
}

/** Unfinished states of this tab's own uploads: the row still has bytes to send from here. */
export const ACTIVE_STATES: RowState[] = ['checking', 'queued', 'uploading', 'retrying', 'paused', 'offline'];

export function blankRow(key: string, name: string, size: number): UploadRow {
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

/** What other tabs are told of one of this tab's uploads (tabs.ts). */
export function tabView(r: UploadRow) {
  return { videoId: r.videoId!, name: r.name, size: r.size, bytesSent: r.bytesSent, state: r.state };
}
