import { formatBytes } from '../../format.ts';
import type { Api } from './api.ts';
import { CliError, EXIT } from './errors.ts';
import type { FileJob } from './plan.ts';
import type { Reporter } from './progress.ts';
import type { UploadState } from './state.ts';
import { type RunningUpload, startTusUpload } from './tus-file.ts';

export interface RunSettings {
  parallel: number;
  limitRate: number;
  chunkSize: number;
  retryDelays: number[];
}

/**
 * Runs the planned uploads, `parallel` at a time. `stop()` (Ctrl-C) aborts the running ones,
 * keeping what the server holds, and starts no more; their jobs end `interrupted`.
 */
export class UploadRun {
  private readonly running = new Set<RunningUpload>();
  private stopped = false;
  /** A failure that dooms every other upload too (the token was refused). */
  fatal: CliError | null = null;

  private readonly api: Api;
  private readonly state: UploadState;
  private readonly report: Reporter;
  private readonly settings: RunSettings;

  constructor(api: Api, state: UploadState, report: Reporter, settings: RunSettings) {
    this.api = api;
    this.state = state;
    this.report = report;
    this.settings = settings;
  }

  async run(jobs: FileJob[]): Promise<void> {
    const queue = jobs.filter((j) => !j.outcome && j.videoId);
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        if (this.stopped) job.outcome = 'interrupted';
        else await this.upload(job);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.parallel, queue.length) }, worker));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.running].map((u) => u.stop().catch(() => {})));
  }

  private async upload(job: FileJob): Promise<void> {
    const rec = this.state.get(job.key);
    if (!rec) throw new Error(`no upload record for ${job.file.path}`);
    const { file } = job;
    const id = job.key;
    this.report.add(id, file.name, file.size);
    const upload = startTusUpload({
      path: file.path,
      size: file.size,
      endpoint: rec.endpoint,
      metadata: rec.metadata,
      uploadUrl: rec.uploadUrl,
      headers: this.api.authHeaders,
      chunkSize: this.settings.chunkSize,
      limitRate: this.settings.limitRate,
      retryDelays: this.settings.retryDelays,
      onUploadUrl: (url) => void this.state.patch(job.key, { uploadUrl: url }),
      onServerOffset: (offset) => {
        // The first HEAD of this run tells where an earlier run stopped.
        if (job.resumedFrom === 0 && offset > 0) {
          job.resumedFrom = offset;
          this.report.note(`↻ ${file.name}: resuming at ${formatBytes(offset)} of ${formatBytes(file.size)}`);
        }
        this.report.progress(id, offset);
      },
      onProgress: (sent) => this.report.progress(id, sent),
    });
    this.running.add(upload);
    try {
      await upload.done;
      this.report.progress(id, file.size);
      job.outcome = 'uploaded';
      job.status = null; // What the server said before this run is over; --wait asks again.
      await this.state.patch(job.key, { finished: true });
      this.report.note(`✓ ${file.name}: uploaded (video ${job.videoId})`);
    } catch (err) {
      if (this.stopped) {
        job.outcome = 'interrupted';
        return;
      }
      const error =
        err instanceof CliError
          ? err
          : new CliError('UPLOAD_FAILED', (err as Error).message, EXIT.someFailed);
      job.outcome = 'failed';
      job.error = { code: error.code, message: error.message };
      this.report.note(`✗ ${file.name}: ${error.message}`);
      if (error.exitCode === EXIT.auth && !this.fatal) {
        this.fatal = error;
        await this.stop();
      }
    } finally {
      this.running.delete(upload);
      this.report.remove(id);
    }
  }
}
