/**
 * What a reload needs to continue an upload: the video it belongs to, the file it came from
 * (name, size, lastModified, fingerprint of its first and last MiB: see identity.ts) and where
 * tus put it. Kept in localStorage (shared by the app's tabs) until the upload ends.
 */
export interface ResumeRecord {
  videoId: string;
  projectId: string;
  name: string;
  size: number;
  lastModified: number;
  type: string;
  /** identity.ts fingerprintOf the file; null for an upload this browser did not start. */
  fingerprint: string | null;
  endpoint: string;
  metadata: Record<string, string>;
  uploadUrl: string | null;
  bytesSent: number;
  savedAt: number;
}

const KEY = 'clipdock.uploads.v1';

function readAll(): Record<string, ResumeRecord> {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? '{}') as Record<string, ResumeRecord>;
  } catch {
    return {};
  }
}

export const resumeRecords = {
  all: (): ResumeRecord[] => Object.values(readAll()),
  put(r: ResumeRecord) {
    const all = readAll();
    all[r.videoId] = r;
    localStorage.setItem(KEY, JSON.stringify(all));
  },
  patch(videoId: string, patch: Partial<ResumeRecord>) {
    const all = readAll();
    const r = all[videoId];
    if (!r) return;
    all[videoId] = { ...r, ...patch };
    localStorage.setItem(KEY, JSON.stringify(all));
  },
  remove(videoId: string) {
    const all = readAll();
    delete all[videoId];
    localStorage.setItem(KEY, JSON.stringify(all));
  },
};
