import { ACTIVE_STATES, type UploadRow } from './rows.ts';

export interface UploadSummary {
  /** This tab has files it is still sending (or about to). */
  running: boolean;
  files: number;
  done: number;
  bytesSent: number;
  bytesTotal: number;
  /** 0–100, by bytes. */
  percent: number;
  /** Bytes per second over every file sending now. */
  speed: number;
  /** Seconds left at the current speed; null when nothing is moving. */
  secondsLeft: number | null;
  /** Every unfinished file is paused by the person. */
  paused: boolean;
  /** The browser is offline, or files wait for the network. */
  offline: boolean;
}

/**
 * One figure for all of this tab's uploads, for the status bar every page shows: the files still
 * to send and those finished beside them (so the bar fills up rather than jumping back as files
 * finish). Rows of other tabs, interrupted and refused rows are not this tab's work.
 */
export function summarize(rows: UploadRow[], browserOffline: boolean): UploadSummary {
  const active = rows.filter((r) => ACTIVE_STATES.includes(r.state));
  const counted = rows.filter((r) => ACTIVE_STATES.includes(r.state) || r.state === 'complete');
  const bytesTotal = counted.reduce((a, r) => a + r.size, 0);
  const bytesSent = counted.reduce(
    (a, r) => a + (r.state === 'complete' ? r.size : Math.min(r.bytesSent, r.size)),
    0,
  );
  const speed = active.reduce((a, r) => a + (r.state === 'uploading' ? r.speed : 0), 0);
  const left = active.reduce((a, r) => a + Math.max(0, r.size - r.bytesSent), 0);
  return {
    running: active.length > 0,
    files: counted.length,
    done: counted.length - active.length,
    bytesSent,
    bytesTotal,
    percent: bytesTotal ? Math.floor((bytesSent / bytesTotal) * 100) : 0,
    speed,
    secondsLeft: speed > 0 ? left / speed : null,
    paused: active.length > 0 && active.every((r) => r.state === 'paused'),
    offline: active.length > 0 && (browserOffline || active.some((r) => r.state === 'offline')),
  };
}
