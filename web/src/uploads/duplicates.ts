import { Api, type DuplicateMatch } from '../api.ts';
import { STATUS_WORDS } from '../format.ts';
import type { BatchFile } from './batching.ts';
import { fingerprintOf } from './identity.ts';
import type { UploadRow } from './rows.ts';

/** Files fingerprinted at once, and asked about per request (the server takes up to 1,000). */
const FINGERPRINTS_AT_ONCE = 4;
const PER_REQUEST = 500;

/** What the duplicate check needs of the upload manager (intake.ts's host). */
export interface DuplicateHost {
  readonly opts: {
    getProjectId: () => string | null;
    getLimits: () => { maxFilesPerSession: number } | undefined;
  };
  readonly files: Map<string, File>;
  /** Files held back as duplicates until the person decides, by row key. */
  readonly held: Map<string, BatchFile>;
  row(key: string): UploadRow | undefined;
  update(key: string, patch: Partial<UploadRow>): void;
  open(projectId: string, files: BatchFile[], perSession?: number): Promise<void>;
}

/**
 * Splits files that passed their checks into those to send and those this user uploaded
 * already (same size and fingerprint of the first and last MiB, as the server recorded at
 * session creation). Duplicates are held on their rows, which say where the file is already;
 * nothing about them is sent until "Upload anyway". Files of one drop are not compared with each
 * other (copies in one drop are what the person chose). When the server cannot answer, every
 * file goes on.
 */
export async function holdDuplicates(m: DuplicateHost, files: BatchFile[]): Promise<BatchFile[]> {
  // A few files at a time: each reads 2 MiB, and a drop may hold hundreds.
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++]!;
      f.fingerprint ??= await fingerprintOf(f.file).catch(() => null);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FINGERPRINTS_AT_ONCE, files.length) }, worker));
  const probed = files.filter((f) => f.fingerprint);
  const found = new Map<BatchFile, DuplicateMatch>();
  for (let at = 0; at < probed.length; at += PER_REQUEST) {
    const part = probed.slice(at, at + PER_REQUEST);
    const { matches } = await Api.duplicates(
      part.map((f) => ({ size: f.file.size, fingerprint: f.fingerprint! })),
    ).catch(() => ({ matches: [] as DuplicateMatch[] }));
    for (const x of matches) if (part[x.index]) found.set(part[x.index]!, x);
  }
  const send: BatchFile[] = [];
  for (const f of files) {
    const match = found.get(f);
    if (!match) {
      send.push(f);
      continue;
    }
    m.held.set(f.key, f);
    m.update(f.key, {
      state: 'duplicate',
      duplicateOf: { videoId: match.videoId, name: match.name, status: match.status },
      reason: `Uploaded before: already in your library as “${match.name}” (${STATUS_WORDS[match.status] ?? match.status}).`,
    });
  }
  return send;
}

/** Sends a held duplicate after all (a new video, charged like any other). */
export function uploadAnyway(m: DuplicateHost, key: string): void {
  const f = m.held.get(key);
  const projectId = m.opts.getProjectId();
  if (!f || !projectId || m.row(key)?.state !== 'duplicate') return;
  m.held.delete(key);
  m.update(key, { state: 'checking', reason: null });
  void m.open(projectId, [f], m.opts.getLimits()?.maxFilesPerSession);
}

/** Leaves a held duplicate unsent: its row says so, and Clear finished removes it. */
export function skipDuplicate(m: DuplicateHost, key: string): void {
  const row = m.row(key);
  if (!m.held.has(key) || row?.state !== 'duplicate') return;
  m.held.delete(key);
  m.files.delete(key);
  m.update(key, {
    state: 'canceled',
    reason: `Skipped: already uploaded as “${row.duplicateOf?.name ?? row.name}”.`,
  });
}
