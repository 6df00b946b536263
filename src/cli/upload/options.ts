import { parseArgs } from 'node:util';
import { CliError, EXIT } from './errors.ts';
import { defaultStatePath } from './state.ts';

export interface UploadOptions {
  url: string;
  token: string;
  paths: string[];
  projectId: string | undefined;
  parallel: number;
  wait: boolean;
  /** Seconds --wait waits at most; 0: no limit. */
  timeout: number;
  json: boolean;
  quiet: boolean;
  statePath: string;
  /** Bytes per second per file; 0: no limit. */
  limitRate: number;
  chunkSize: number;
  /** Upload files again that an earlier run finished. */
  again: boolean;
  help: boolean;
}

export const UPLOAD_USAGE = `Usage: clipdock upload [options] <files or folders...>
       (from a clone: npm run upload -- [options] <files or folders...>)

Uploads video files (folders: every video file in them, recursively) to a Clipdock server with
tus, several at a time. Interrupted (Ctrl-C, network gone)? Run the same command again: it
resumes where the server stopped, and skips what was finished.

Options:
  --url <url>          Server address (env CLIPDOCK_URL; default http://localhost:3000)
  --token <token>      Personal API token (env CLIPDOCK_TOKEN; create one: POST /api/tokens)
  --project <id>       Upload into this project (default: your default project)
  --parallel <n>       Files uploaded at once (default 3)
  --wait               Wait until each video is ready (or failed) after its upload
  --timeout <seconds>  With --wait: give up waiting after this long (default: no limit)
  --json               Print the result as JSON on stdout (progress goes to stderr)
  --quiet              No progress output
  --state <file>       Resume state (env CLIPDOCK_STATE; default ~/.clipdock/uploads.json)
  --limit-rate <rate>  Bytes per second per file, e.g. 500k, 2m (default: no limit)
  --chunk-size <size>  Bytes per PATCH request, e.g. 64m (default 64m)
  --again              Upload files again that an earlier run already finished
  -h, --help           This help

Exit codes: 0 all done, 1 some files refused or failed, 2 bad usage, 3 token refused,
4 not enough credits or storage quota, 5 server unreachable or failing, 130 interrupted.`;

export function parseUploadOptions(argv: string[], env: NodeJS.ProcessEnv): UploadOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new CliError('USAGE', `${(err as Error).message}\n\n${UPLOAD_USAGE}`, EXIT.usage);
  }
  const v = parsed.values;
  const opts: UploadOptions = {
    url: v.url ?? env.CLIPDOCK_URL ?? 'http://localhost:3000',
    token: v.token ?? env.CLIPDOCK_TOKEN ?? '',
    paths: parsed.positionals,
    projectId: v.project,
    parallel: count('--parallel', v.parallel, 3, 1, 32),
    wait: v.wait === true,
    timeout: count('--timeout', v.timeout, 0, 0, Number.MAX_SAFE_INTEGER),
    json: v.json === true,
    quiet: v.quiet === true,
    statePath: v.state ?? env.CLIPDOCK_STATE ?? defaultStatePath(),
    limitRate: v['limit-rate'] ? size('--limit-rate', v['limit-rate']) : 0,
    chunkSize: v['chunk-size'] ? size('--chunk-size', v['chunk-size']) : 64 * 1024 * 1024,
    again: v.again === true,
    help: v.help === true,
  };
  if (opts.help) return opts;
  if (!/^https?:\/\/[^/]/i.test(opts.url)) {
    throw new CliError(
      'USAGE',
      `--url must be an http:// or https:// address, not "${opts.url}".`,
      EXIT.usage,
    );
  }
  if (!opts.token) {
    throw new CliError(
      'TOKEN_MISSING',
      'No API token. Create a personal API token (web app, or POST /api/tokens) and pass it with --token or CLIPDOCK_TOKEN.',
      EXIT.auth,
    );
  }
  if (opts.paths.length === 0) {
    throw new CliError('USAGE', `Name at least one file or folder.\n\n${UPLOAD_USAGE}`, EXIT.usage);
  }
  return opts;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      project: { type: 'string' },
      parallel: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      state: { type: 'string' },
      'limit-rate': { type: 'string' },
      'chunk-size': { type: 'string' },
      again: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function count(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(
      'USAGE',
      `${flag} must be a whole number from ${min} to ${max}, not "${raw}".`,
      EXIT.usage,
    );
  }
  return n;
}

/** "500k", "2m", "1g" or a number of bytes. */
function size(flag: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(raw.trim());
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase()];
  const n = m && unit ? Math.floor(Number(m[1]) * unit) : Number.NaN;
  if (!Number.isFinite(n) || n < 1) {
    throw new CliError('USAGE', `${flag} must be a size such as 500k or 2m, not "${raw}".`, EXIT.usage);
  }
  return n;
}
