/**
 * How the CLI ends. Scripts branch on the exit code; people read the message. Every failure the
 * CLI reports is a CliError: a server refusal keeps the server's code and message.
 */
export const EXIT = {
  ok: 0,
  /** Some files were refused, failed to upload or (with --wait) failed processing. */
  someFailed: 1,
  /** Bad flags or arguments. */
  usage: 2,
  /** The token is missing, wrong, expired or revoked. */
  auth: 3,
  /** Not enough credits or storage quota for the files. */
  quota: 4,
  /** The server could not be reached, or answered something unexpected. */
  server: 5,
  /** Stopped by Ctrl-C (SIGINT); running the same command again resumes. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  readonly exitCode: ExitCode;
  /** The server's error code (src/errors.ts) when the server refused; else a CLI code. */
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, exitCode: ExitCode, details?: Record<string, unknown>) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
  }
}

const AUTH_CODES = new Set(['UNAUTHENTICATED']);
const QUOTA_CODES = new Set(['INSUFFICIENT_CREDITS', 'STORAGE_QUOTA_EXCEEDED']);

/** The exit code a server refusal with `code` and HTTP `status` ends the CLI with. */
export function exitCodeOf(code: string, status: number): ExitCode {
  if (status === 401 || AUTH_CODES.has(code)) return EXIT.auth;
  if (QUOTA_CODES.has(code)) return EXIT.quota;
  if (status >= 500) return EXIT.server;
  return EXIT.someFailed;
}
