import { CliError, EXIT, exitCodeOf } from './errors.ts';

/** The parts of GET /api/me the CLI uses. */
export interface Me {
  user: { id: string; email: string };
  limits: { maxFilesPerSession: number; maxFileBytes: number; acceptedExtensions: string[] };
}

export interface SessionFile {
  videoId: string;
  name: string;
  upload: { endpoint: string; metadata: Record<string, string> };
}

export interface VideoStatus {
  id: string;
  name: string;
  status: string;
  step: string | null;
  progress: number;
  error: { code: string; message: string } | null;
}

/** Statuses a video does not leave by itself. */
export const FINAL_STATUSES = new Set(['ready', 'failed', 'canceled', 'upload_expired']);

/**
 * The Clipdock HTTP API as the CLI calls it, authenticated by a personal API token. A refusal
 * becomes a CliError carrying the server's code, message and details.
 */
export class Api {
  readonly baseUrl: string;
  readonly token: string;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = token;
  }

  get authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  me(): Promise<Me> {
    return this.call<Me>('GET', '/api/me');
  }

  async createSession(
    files: Array<{ name: string; size: number; type?: string }>,
    projectId?: string,
  ): Promise<{ sessionId: string; files: SessionFile[] }> {
    return this.call('POST', '/api/upload-sessions', { files, ...(projectId ? { projectId } : {}) });
  }

  async statuses(videoIds: string[]): Promise<VideoStatus[]> {
    const out: VideoStatus[] = [];
    // The server takes at most 200 ids per query.
    for (let i = 0; i < videoIds.length; i += 100) {
      const ids = videoIds.slice(i, i + 100).join(',');
      const page = await this.call<{ videos: VideoStatus[] }>('GET', `/api/videos/status?videoIds=${ids}`);
      out.push(...page.videos);
    }
    return out;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { ...this.authHeaders, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw unreachable(this.baseUrl, err);
    }
    const text = await res.text();
    if (!res.ok) throw refusal(res.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(
        'UNEXPECTED_RESPONSE',
        `${this.baseUrl} answered ${method} ${path} with something that is not JSON. Is this a Clipdock server?`,
        EXIT.server,
      );
    }
  }
}

export function unreachable(baseUrl: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new CliError(
    'SERVER_UNREACHABLE',
    `Cannot reach ${baseUrl} (${cause?.code ?? cause?.message ?? (err as Error).message}). Check --url / CLIPDOCK_URL and your network.`,
    EXIT.server,
  );
}

/** A server's error reply as a CliError; 401 gets a message about the token. */
export function refusal(status: number, body: string): CliError {
  let error: { code?: string; message?: string; details?: Record<string, unknown> } = {};
  try {
    error = (JSON.parse(body) as { error?: typeof error }).error ?? {};
  } catch {
    // Not our JSON: a proxy's page, say. The status still tells what kind of failure it is.
  }
  const code = error.code ?? `HTTP_${status}`;
  if (status === 401) {
    return new CliError(
      code,
      `The server refused the API token (${error.message ?? 'unauthenticated'}). Create a personal API token (POST /api/tokens, or in the web app) and pass it with --token or CLIPDOCK_TOKEN.`,
      EXIT.auth,
      error.details,
    );
  }
  const message = error.message ?? `The server answered ${status}${body ? `: ${body.slice(0, 200)}` : ''}.`;
  return new CliError(code, message, exitCodeOf(code, status), error.details);
}
