import type { Api, VideoStatus } from './api.ts';
import { CliError, EXIT } from './errors.ts';
import { type LocalFile, typeOf } from './files.ts';
import type { Reporter } from './progress.ts';
import { keyOf, type UploadState } from './state.ts';

export type Outcome = 'uploaded' | 'already_uploaded' | 'refused' | 'failed' | 'interrupted' | 'not_started';

/** One local file through a run: its plan, then what became of it. */
export interface FileJob {
  file: LocalFile;
  key: string;
  videoId: string | null;
  /** Set once decided; a job without one is still to be uploaded. */
  outcome?: Outcome;
  /** The server's offset when this run continued an earlier upload; 0 for a fresh one. */
  resumedFrom: number;
  error: { code: string; message: string } | null;
  /** The video's last known status on the server. */
  status: VideoStatus | null;
}

/** Refusals of a single file in a session (details.index says which). */
const PER_FILE_CODES = new Set(['FILE_EMPTY', 'FILE_TOO_LARGE', 'UNSUPPORTED_FILE_TYPE']);

/**
 * Decides per file: skip (an earlier run finished it), continue an earlier upload, or create a
 * video for it in a new upload session (at most the server's files per session each). A file the
 * server refuses is reported and left out; the others go on. Not enough credits or quota
 * refuses the rest and is returned as `fatal`.
 */
export async function planJobs(
  api: Api,
  state: UploadState,
  files: LocalFile[],
  opts: { projectId: string | undefined; again: boolean; maxFilesPerSession: number; signal: AbortSignal },
  report: Reporter,
): Promise<{ jobs: FileJob[]; fatal: CliError | null }> {
  const jobs: FileJob[] = files.map((file) => ({
    file,
    key: keyOf(api.baseUrl, file),
    videoId: null,
    resumedFrom: 0,
    error: null,
    status: null,
  }));
  await reconcile(api, state, jobs, opts.again, report);

  const fresh = jobs.filter((j) => !j.outcome && !j.videoId);
  let fatal: CliError | null = null;
  for (let i = 0; i < fresh.length && !fatal && !opts.signal.aborted; i += opts.maxFilesPerSession) {
    fatal = await createSession(
      api,
      state,
      fresh.slice(i, i + opts.maxFilesPerSession),
      opts.projectId,
      report,
    );
  }
  if (fatal) {
    for (const job of fresh) {
      if (job.outcome || job.videoId) continue;
      job.outcome = 'refused';
      job.error = { code: fatal.code, message: fatal.message };
    }
  }
  return { jobs, fatal };
}

/** Matches files to what earlier runs left in the state file, by asking the server. */
async function reconcile(api: Api, state: UploadState, jobs: FileJob[], again: boolean, report: Reporter) {
  const known = jobs.filter((j) => state.get(j.key));
  if (known.length === 0) return;
  const statuses = new Map(
    (await api.statuses(known.map((j) => state.get(j.key)!.videoId))).map((s) => [s.id, s]),
  );
  for (const job of known) {
    const rec = state.get(job.key)!;
    const status = statuses.get(rec.videoId);
    const name = job.file.name;
    switch (status?.status) {
      case 'pending_upload':
      case 'uploading':
        job.videoId = rec.videoId;
        job.status = status;
        // Killed between the tus creation and saving its URL: the URL is the endpoint + the
        // video id (README, "Uploads"), and creating it again would be refused.
        if (status.status === 'uploading' && !rec.uploadUrl) {
          await state.patch(job.key, { uploadUrl: `${rec.endpoint.replace(/\/+$/, '')}/${rec.videoId}` });
        }
        break;
      case 'uploaded':
      case 'processing':
      case 'ready':
        if (again) break;
        job.videoId = rec.videoId;
        job.status = status;
        job.outcome = 'already_uploaded';
        if (!rec.finished) await state.patch(job.key, { finished: true });
        report.note(`= ${name}: uploaded by an earlier run (video ${rec.videoId}, ${status.status}).`);
        break;
      case 'failed':
        if (again) break;
        job.videoId = rec.videoId;
        job.status = status;
        job.outcome = 'failed';
        job.error = status.error ?? { code: 'FAILED', message: 'The video failed.' };
        report.note(`✗ ${name}: failed in an earlier run: ${job.error.message} (--again uploads it anew)`);
        break;
      default:
        // Deleted, canceled or expired since: nothing to continue, so it is a new upload.
        break;
    }
    if (!job.videoId && !job.outcome) await state.set(job.key, undefined);
  }
}

async function createSession(
  api: Api,
  state: UploadState,
  group: FileJob[],
  projectId: string | undefined,
  report: Reporter,
): Promise<CliError | null> {
  let pending = group;
  while (pending.length > 0) {
    try {
      const session = await api.createSession(
        pending.map((j) => ({ name: j.file.name, size: j.file.size, ...typeIfKnown(j.file.name) })),
        projectId,
      );
      for (const [i, created] of session.files.entries()) {
        const job = pending[i]!;
        job.videoId = created.videoId;
        await state.set(job.key, {
          server: api.baseUrl,
          path: job.file.path,
          size: job.file.size,
          videoId: created.videoId,
          endpoint: created.upload.endpoint,
          metadata: created.upload.metadata,
          updatedAt: new Date().toISOString(),
        });
      }
      return null;
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      const index = err.details?.index;
      if (PER_FILE_CODES.has(err.code) && typeof index === 'number' && pending[index]) {
        const job = pending[index];
        job.outcome = 'refused';
        job.error = { code: err.code, message: err.message };
        report.note(`✗ ${job.file.name}: refused: ${err.message}`);
        pending = pending.filter((_, i) => i !== index);
        continue;
      }
      if (err.exitCode === EXIT.quota) return err;
      throw err;
    }
  }
  return null;
}

function typeIfKnown(name: string): { type?: string } {
  const type = typeOf(name);
  return type ? { type } : {};
}
