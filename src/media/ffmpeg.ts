import { spawn, spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';

/**
 * Spawning ffmpeg and ffprobe. Every run takes an AbortSignal: on abort the process gets SIGTERM,
 * then SIGKILL after a short grace, and the promise rejects with MediaAbortedError only once the
 * process is gone, so no ffmpeg outlives the job that started it. ffmpeg reports progress on
 * fd 3 (`-progress pipe:3`), leaving stdout free for data such as raw audio samples.
 */

export interface MediaBinaries {
  ffmpeg: string;
  ffprobe: string;
}

/**
 * FFMPEG_PATH / FFPROBE_PATH when set, else `ffmpeg` / `ffprobe` from the system's PATH. The
 * static npm builds (ffmpeg of 2018, an unrelated ffprobe that crashed on every MPEG-TS file) are
 * gone: a decoder that faces strangers' files must be a maintained release.
 */
export function resolveBinaries(media: {
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
}): MediaBinaries {
  return {
    ffmpeg: media.ffmpegPath ?? 'ffmpeg',
    ffprobe: media.ffprobePath ?? 'ffprobe',
  };
}

export class MediaAbortedError extends Error {
  override name = 'MediaAbortedError';
}

/**
 * ffmpeg or ffprobe exited with an error (or was killed by something other than us). The message
 * never holds stderr (paths, presigned URLs): `stderrTail` is a property, logged with the error.
 */
export class MediaToolError extends Error {
  override name = 'MediaToolError';
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
  constructor(tool: string, exitCode: number | null, signal: NodeJS.Signals | null, stderrTail: string) {
    super(`${tool} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode}`}`);
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderrTail = stderrTail;
  }
}

export interface RunOptions {
  signal: AbortSignal;
  /**
   * Called with 0..1 as ffmpeg's out_time advances through `durationSeconds`, and the seconds
   * left at ffmpeg's current speed (once it reports one).
   */
  onProgress?: (fraction: number, etaSeconds?: number) => void;
  durationSeconds?: number;
  /** Every stderr line (filters such as showinfo and silencedetect log there). */
  onStderrLine?: (line: string) => void;
  /** Receives stdout when given; otherwise stdout is discarded. */
  onStdout?: (stdout: Readable) => void;
  /** Observes each command run (the bench replays them bare). */
  onCommand?: (cmd: { bin: string; args: string[]; ms: number }) => void;
}

export interface RunResult {
  /** Frames written to the last output, from ffmpeg's progress report. */
  frames: number;
  stderrTail: string;
}

const KILL_GRACE_MS = 2000;

/**
 * On Linux, ffmpeg is started through `setpriv --pdeathsig KILL`, so the kernel kills it when the
 * worker process dies, even by SIGKILL (ffmpeg itself ignores the broken progress pipe and would
 * otherwise run to the end as an orphan). Checked once; elsewhere ffmpeg is spawned directly.
 */
let deathSignalPrefix: string[] | undefined;
function deathSignal(): string[] {
  if (deathSignalPrefix === undefined) {
    const probe =
      process.platform === 'linux'
        ? spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore', timeout: 5000 })
        : undefined;
    deathSignalPrefix = probe?.status === 0 ? ['setpriv', '--pdeathsig', 'KILL'] : [];
  }
  return deathSignalPrefix;
}
const TAIL_LINES = 40;

/** Runs a process to completion, collecting a bounded stderr tail. */
export function runTool(
  bin: string,
  args: string[],
  opts: RunOptions & { stdio3?: boolean },
): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(new MediaAbortedError(String(opts.signal.reason ?? 'aborted')));
      return;
    }
    const [cmd, ...prefix] = [...deathSignal(), bin];
    const child = spawn(cmd!, [...prefix, ...args], {
      stdio: [
        'ignore',
        opts.onStdout ? 'pipe' : 'ignore',
        'pipe',
        ...(opts.stdio3 ? (['pipe'] as const) : []),
      ],
    });
    const tail: string[] = [];
    let frames = 0;
    let outSeconds: number | undefined;
    let speed: number | undefined;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;

    const onAbort = () => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });

    lines(child.stderr!, (line) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      opts.onStderrLine?.(line);
    });
    if (opts.stdio3) {
      const progress = child.stdio[3] as Readable;
      lines(progress, (line) => {
        const eq = line.indexOf('=');
        if (eq < 0) return;
        const key = line.slice(0, eq);
        const value = line.slice(eq + 1);
        if (key === 'frame') frames = Number(value) || frames;
        else if (key === 'out_time_us') {
          const us = Number(value);
          if (Number.isFinite(us) && us >= 0) outSeconds = us / 1e6;
        } else if (key === 'speed') {
          // "1.52x", or "N/A" before the first frame.
          const x = Number.parseFloat(value);
          speed = Number.isFinite(x) && x > 0 ? x : undefined;
        } else if (
          key === 'progress' &&
          outSeconds !== undefined &&
          opts.onProgress &&
          opts.durationSeconds
        ) {
          // One report per block: where the output is, and how long the rest takes at this speed.
          const left = Math.max(0, opts.durationSeconds - outSeconds);
          opts.onProgress(
            Math.min(1, outSeconds / opts.durationSeconds),
            speed ? Math.round((left / speed) * 10) / 10 : undefined,
          );
        }
      });
    }
    if (opts.onStdout) opts.onStdout(child.stdout!);

    child.on('error', (err) => {
      opts.signal.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code, sig) => {
      clearTimeout(killTimer);
      opts.signal.removeEventListener('abort', onAbort);
      opts.onCommand?.({ bin, args, ms: performance.now() - started });
      if (aborted) reject(new MediaAbortedError(String(opts.signal.reason ?? 'aborted')));
      else if (code === 0) resolve({ frames, stderrTail: tail.join('\n') });
      else
        reject(
          new MediaToolError(bin.endsWith('ffprobe') ? 'ffprobe' : 'ffmpeg', code, sig, tail.join('\n')),
        );
    });
  });
}

/** Splits a stream into lines (\n or \r), holding at most one partial line. */
function lines(stream: Readable, onLine: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i = buf.search(/[\r\n]/);
    while (i >= 0) {
      const line = buf.slice(0, i);
      if (line) onLine(line);
      buf = buf.slice(i + 1);
      i = buf.search(/[\r\n]/);
    }
    // A pathological line without breaks must not grow without bound.
    if (buf.length > 64 * 1024) buf = buf.slice(-1024);
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
  });
}

/**
 * Runs ffmpeg with progress on fd 3 and no interactive stdin. `args` are everything after the
 * global options (inputs, filters, outputs).
 */
export function runFfmpeg(bin: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return runTool(bin, ['-hide_banner', '-nostdin', '-y', '-progress', 'pipe:3', '-nostats', ...args], {
    ...opts,
    stdio3: true,
  });
}

/** Runs ffprobe and parses its JSON output (bounded: ffprobe's JSON for one file is small). */
export async function runFfprobeJson(
  bin: string,
  args: string[],
  signal: AbortSignal,
  onCommand?: RunOptions['onCommand'],
): Promise<unknown> {
  let out = '';
  await runTool(bin, ['-hide_banner', '-v', 'error', '-print_format', 'json', ...args], {
    signal,
    onCommand,
    onStdout: (s) => {
      s.setEncoding('utf8');
      s.on('data', (c: string) => {
        if (out.length < 4 * 1024 * 1024) out += c;
      });
    },
  });
  return JSON.parse(out || '{}');
}
