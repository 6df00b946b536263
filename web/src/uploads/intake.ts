import type { UploadLimits } from '../api.ts';
import { mergeVideos } from '../store.ts';
import { type BatchFile, type OpenedFile, openSessions } from './batching.ts';
import { type DuplicateHost, holdDuplicates } from './duplicates.ts';
import { handleOf, handleStore } from './handles.ts';
import { fingerprintOf } from './identity.ts';
import { extensionOf, precheckFile } from './precheck.ts';
import { type ResumeRecord, resumeRecords } from './resume-records.ts';
import { blankRow, type UploadRow } from './rows.ts';
import type { TabCoordinator } from './tabs.ts';

/**
 * What intake needs of the upload manager: manager.ts hands itself in (and imports this module,
 * so this names the few members it uses instead of importing the class back).
 */
export interface IntakeHost extends DuplicateHost {
  readonly opts: {
    getProjectId: () => string | null;
    getFreeBytes: () => number;
    getLimits: () => UploadLimits | undefined;
  };
  readonly files: Map<string, File>;
  readonly records: Map<string, ResumeRecord>;
  readonly tabs: TabCoordinator;
  nextKey(prefix: string): string;
  update(key: string, patch: Partial<UploadRow>): void;
  addRows(rows: UploadRow[]): void;
  pump(): void;
}

/**
 * New files into the queue: checked in the browser first (type, size, free storage, content),
 * then given videos by upload sessions of the server's size (batching.ts); each file whose video
 * exists is owned by this tab (tabs.ts) and gets a resume record with its fingerprint.
 */
export async function queueNewFiles(m: IntakeHost, list: File[]): Promise<void> {
  const projectId = m.opts.getProjectId();
  if (!projectId || !list.length) return;
  const added = list.map((file) => ({ key: m.nextKey('f'), file }));
  for (const a of added) m.files.set(a.key, a.file);
  m.addRows(added.map((a) => ({ ...blankRow(a.key, a.file.name, a.file.size), state: 'checking' })));

  const free = m.opts.getFreeBytes();
  const limits = m.opts.getLimits();
  const checks = await Promise.all(
    added.map((a) =>
      precheckFile(a.file, {
        maxBytes: limits?.maxFileBytes ?? Number.POSITIVE_INFINITY,
        freeBytes: free,
        extensions: limits?.acceptedExtensions ?? [extensionOf(a.file.name)],
      }),
    ),
  );
  const accepted: BatchFile[] = [];
  added.forEach((a, i) => {
    const c = checks[i]!;
    if (c.ok) {
      accepted.push(a);
      m.update(a.key, { container: c.container });
    } else {
      m.files.delete(a.key);
      m.update(a.key, { state: 'refused', reason: c.reason });
    }
  });
  const send = accepted.length ? await holdDuplicates(m, accepted) : [];
  if (send.length) await openFor(m, projectId, send, limits?.maxFilesPerSession);
}

export async function openFor(
  m: IntakeHost,
  projectId: string,
  files: BatchFile[],
  perSession = Number.POSITIVE_INFINITY,
): Promise<void> {
  await openSessions(projectId, files, perSession, {
    opened: async (opened) => {
      await Promise.all(opened.map((o) => adopt(m, projectId, o)));
      m.pump();
    },
    // Files are kept: Retry asks for a new session for them.
    refused: (batch, reason) => {
      for (const a of batch) m.update(a.key, { state: 'failed', reason });
    },
  });
}

/** A file whose video exists: this tab owns its upload and keeps a record to resume it. */
async function adopt(m: IntakeHost, projectId: string, o: OpenedFile): Promise<void> {
  const rec: ResumeRecord = {
    videoId: o.videoId,
    projectId,
    name: o.file.name,
    size: o.file.size,
    lastModified: o.file.lastModified,
    type: o.file.type,
    fingerprint: o.fingerprint ?? (await fingerprintOf(o.file).catch(() => null)),
    endpoint: o.endpoint,
    metadata: o.metadata,
    uploadUrl: null,
    bytesSent: 0,
    savedAt: Date.now(),
  };
  // A new video: no other tab can know it yet, so the claim succeeds.
  await m.tabs.claim(o.videoId);
  m.records.set(o.key, rec);
  resumeRecords.put(rec);
  const handle = handleOf(o.file);
  if (handle) await handleStore.save(o.videoId, handle);
  m.update(o.key, { state: 'queued', videoId: o.videoId });
  mergeVideos([{ id: o.videoId, name: o.file.name, status: 'pending_upload', projectId, size: o.file.size }]);
}
