import { Api } from './api.ts';
import { CliError, EXIT, type ExitCode } from './errors.ts';
import { collectFiles } from './files.ts';
import { parseUploadOptions, UPLOAD_USAGE, type UploadOptions } from './options.ts';
import { type FileJob, planJobs } from './plan.ts';
import { plainReporter, type Reporter, silentReporter, ttyReporter } from './progress.ts';
import { UploadRun } from './run.ts';
import { UploadState } from './state.ts';
import { waitForVideos } from './wait.ts';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Registers what Ctrl-C does; returns the unregister function. */
  onInterrupt: (handler: () => void) => () => void;
}

/** tus retries per request before a file counts as failed (about two minutes of backoff). */
const RETRY_DELAYS = [1000, 2000, 4000, 8000, 15000, 30000, 30000, 30000];

/** `clipdock upload ...`: resolves to the exit code; a CliError thrown before uploading rejects. */
export async function uploadCommand(argv: string[], io: Io): Promise<ExitCode> {
  const opts = parseUploadOptions(argv, io.env);
  if (opts.help) {
    io.stdout.write(`${UPLOAD_USAGE}\n`);
    return EXIT.ok;
  }
  const api = new Api(opts.url, opts.token);
  const me = await api.me();
  const { files, skipped } = await collectFiles(opts.paths, me.limits.acceptedExtensions);
  if (files.length === 0) {
    const why = skipped.map((s) => `\n  ${s.path}: ${s.reason}`).join('');
    throw new CliError(
      'NO_FILES',
      `No video files to upload (accepted: ${me.limits.acceptedExtensions.join(', ')}).${why}`,
      EXIT.usage,
    );
  }
  const state = await UploadState.load(opts.statePath);
  // What this run will send: known once planned (files finished before or refused don't count).
  let totalBytes = 0;
  const report = reporterFor(opts, io, () => totalBytes);
  for (const s of skipped) report.note(`- ${s.path}: ${s.reason}`);

  const run = new UploadRun(api, state, report, {
    parallel: opts.parallel,
    limitRate: opts.limitRate,
    chunkSize: opts.chunkSize,
    retryDelays: RETRY_DELAYS,
  });
  // Ctrl-C from here on stops cleanly: no new session, no new upload, running ones aborted.
  const interrupt = new AbortController();
  const release = io.onInterrupt(() => {
    report.note('Stopping: the server keeps what it received. Run the same command again to resume.');
    interrupt.abort();
    void run.stop();
  });
  let jobs: FileJob[] = [];
  let fatal: CliError | null = null;
  let waited = true;
  try {
    ({ jobs, fatal } = await planJobs(
      api,
      state,
      files,
      {
        projectId: opts.projectId,
        again: opts.again,
        maxFilesPerSession: me.limits.maxFilesPerSession,
        signal: interrupt.signal,
      },
      report,
    ));
    totalBytes = jobs.filter((j) => j.videoId && !j.outcome).reduce((n, j) => n + j.file.size, 0);
    await run.run(jobs);
    const waitable = jobs.filter((j) => j.outcome === 'uploaded' || j.outcome === 'already_uploaded');
    if (opts.wait && !interrupt.signal.aborted && !run.fatal) {
      waited = await waitForVideos(
        api,
        waitable,
        { timeoutSeconds: opts.timeout, signal: interrupt.signal },
        report,
      );
      if (!waited && !interrupt.signal.aborted) report.note(`Stopped waiting after ${opts.timeout}s.`);
    }
  } finally {
    release();
    report.close();
  }

  const code = exitCodeFor(jobs, {
    skipped: skipped.length,
    interrupted: interrupt.signal.aborted,
    fatal: run.fatal ?? fatal,
    wait: opts.wait,
    waited,
  });
  if (opts.json) {
    const result = {
      ok: code === EXIT.ok,
      exitCode: code,
      server: api.baseUrl,
      files: jobs.map(jsonOf),
      skipped,
    };
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    io.stdout.write(`${summaryOf(jobs, opts.wait)}\n`);
    const fatalError = run.fatal ?? fatal;
    if (fatalError) io.stderr.write(`${fatalError.message}\n`);
  }
  return code;
}

function reporterFor(opts: UploadOptions, io: Io, total: () => number): Reporter {
  if (opts.quiet) return silentReporter;
  return io.stderr.isTTY ? ttyReporter(io.stderr, total) : plainReporter(io.stderr);
}

function exitCodeFor(
  jobs: FileJob[],
  s: { skipped: number; interrupted: boolean; fatal: CliError | null; wait: boolean; waited: boolean },
): ExitCode {
  if (s.interrupted) return EXIT.interrupted;
  if (s.fatal) return s.fatal.exitCode;
  const bad = jobs.some(
    (j) =>
      j.outcome === 'refused' ||
      j.outcome === 'failed' ||
      j.outcome === 'interrupted' ||
      (s.wait && j.status?.status !== 'ready'),
  );
  return bad || s.skipped > 0 || !s.waited ? EXIT.someFailed : EXIT.ok;
}

function jsonOf(j: FileJob) {
  return {
    path: j.file.path,
    name: j.file.name,
    size: j.file.size,
    videoId: j.videoId,
    upload: j.outcome ?? 'not_started',
    resumedFrom: j.resumedFrom,
    status: j.status?.status ?? (j.outcome === 'uploaded' ? 'uploaded' : null),
    step: j.status?.step ?? null,
    error: j.error,
  };
}

function summaryOf(jobs: FileJob[], wait: boolean): string {
  const count = (pred: (j: FileJob) => boolean) => jobs.filter(pred).length;
  const resumed = count((j) => j.outcome === 'uploaded' && j.resumedFrom > 0);
  const parts = [
    `${count((j) => j.outcome === 'uploaded')} uploaded${resumed ? ` (${resumed} resumed)` : ''}`,
  ];
  const more: Array<[number, string]> = [
    [count((j) => j.outcome === 'already_uploaded'), 'uploaded before'],
    [count((j) => j.outcome === 'refused'), 'refused'],
    [count((j) => j.outcome === 'failed'), 'failed'],
    [count((j) => j.outcome === 'interrupted' || !j.outcome), 'interrupted (run again to resume)'],
  ];
  for (const [n, what] of more) if (n > 0) parts.push(`${n} ${what}`);
  if (wait) parts.push(`${count((j) => j.status?.status === 'ready')} ready`);
  return `${jobs.length} file${jobs.length === 1 ? '' : 's'}: ${parts.join(', ')}.`;
}
