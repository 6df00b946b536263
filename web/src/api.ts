/** Typed access to the Clipdock HTTP API. Every failure becomes an ApiError with the server's code. */

export type VideoStatus =
  | 'pending_upload'
  | 'uploading'
  | 'uploaded'
  | 'processing'
  | 'ready'
  | 'failed'
  | 'canceled'
  | 'upload_expired';

export interface User {
  id: string;
  email: string;
  /** ADMIN_EMAILS, or the first account: sees the admin page. */
  isAdmin?: boolean;
}
export interface Me {
  user: User;
  credits: { balance: number; reserved: number };
  storage: { usedBytes: number; quotaBytes: number };
  limits: UploadLimits;
  /** Optional steps this installation runs (older servers: absent). */
  features?: { transcription: boolean };
}
export interface UploadLimits {
  maxFilesPerSession: number;
  maxFileBytes: number;
  acceptedExtensions: string[];
  creditsPerVideo: number;
  /** The PATCH size this server suggests (a whole number of S3 parts); older servers: absent. */
  uploadChunkBytes?: number;
}
export interface Project {
  id: string;
  name: string;
  isDefault?: boolean;
}
export interface StoryboardIndex {
  interval: number;
  columns: number;
  rows: number;
  count: number;
  tileWidth: number;
  tileHeight: number;
}
/** Enrichment after `ready` (storyboard, scenes, sound, transcript): its own live state. */
export interface AnalysisState {
  status: 'pending' | 'running' | 'ready' | 'failed';
  step: string | null;
  progress: number;
  error: { code: string; message: string } | null;
}
/**
 * The detail route's analysis. The list, the batch status and the socket send only its state
 * (`AnalysisState`); the store merges the two (store.ts).
 */
export interface Analysis extends Partial<AnalysisState> {
  durationSeconds?: number | null;
  width?: number | null;
  height?: number | null;
  videoCodec?: string | null;
  scenes?: Array<{ start: number }>;
  storyboard?: StoryboardIndex | null;
}
export interface Outputs {
  video: string | null;
  poster: string | null;
  storyboard: string | null;
}
export interface VideoError {
  code: string;
  message: string;
  /** False when running the video again cannot help (the file itself is the problem). */
  retryable?: boolean;
}
/** A video as the list, the detail route and the socket describe it; detail fields are optional. */
export interface Video {
  id: string;
  name: string;
  status: VideoStatus;
  projectId?: string;
  sessionId?: string | null;
  step?: string | null;
  progress?: number;
  error?: VideoError | null;
  size?: number;
  mimeType?: string | null;
  createdAt?: string;
  updatedAt?: string;
  durationSeconds?: number | null;
  analysis?: Analysis | null;
  outputs?: Outputs | null;
  posterUrl?: string | null;
  /** Seconds the running conversion still needs (from ffmpeg's speed), when known. */
  etaSeconds?: number | null;
}
export interface UploadSession {
  sessionId: string;
  files: Array<{
    videoId: string;
    name: string;
    upload: { endpoint: string; metadata: Record<string, string> };
  }>;
}
/** A personal API token as listed (the token itself is shown once, at creation). */
/** A file of a request to /api/uploads/duplicates that this user uploaded already. */
export interface DuplicateMatch {
  index: number;
  videoId: string;
  name: string;
  status: VideoStatus;
  createdAt: string;
}

export interface ApiToken {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}
export interface TimelineItem {
  id?: string;
  videoId: string;
  position?: number;
  inSeconds: number;
  outSeconds: number | null;
}

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Every call is authenticated by the session cookie (HttpOnly: no script of the page can read
 * it, and nothing is kept in localStorage); the server accepts it from this origin only.
 */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (init.body) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Cannot reach the server. Check your connection.');
  }
  const text = await res.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(
      res.status,
      err?.code ?? 'HTTP_ERROR',
      err?.message ?? `Request failed (${res.status}).`,
    );
  }
  return body as T;
}

const json = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body) });

export const Api = {
  // The answer's token is for scripts; the app signs in with the cookie the same answer sets.
  signup: (email: string, password: string) =>
    api<{ user: User }>('/api/auth/signup', json('POST', { email, password })),
  login: (email: string, password: string) =>
    api<{ user: User }>('/api/auth/login', json('POST', { email, password })),
  logout: () => api<unknown>('/api/auth/logout', { method: 'POST' }),
  logoutEverywhere: () => api<unknown>('/api/auth/logout-all', { method: 'POST' }),
  apiTokens: () => api<{ tokens: ApiToken[] }>('/api/tokens'),
  createApiToken: (name: string, expiresAt: string | null) =>
    api<ApiToken & { token: string }>(
      '/api/tokens',
      json('POST', expiresAt ? { name, expiresAt } : { name }),
    ),
  revokeApiToken: (id: string) => api<unknown>(`/api/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  me: () => api<Me>('/api/me'),
  projects: () => api<{ projects: Project[] }>('/api/projects'),
  createProject: (name: string) => api<{ project: Project }>('/api/projects', json('POST', { name })),
  createUploadSession: (
    projectId: string,
    files: Array<{ name: string; size: number; type: string; fingerprint?: string }>,
  ) => api<UploadSession>('/api/upload-sessions', json('POST', { projectId, files })),
  duplicates: (files: Array<{ size: number; fingerprint: string }>) =>
    api<{ matches: DuplicateMatch[] }>('/api/uploads/duplicates', json('POST', { files })),
  videos: (q: {
    projectId?: string;
    status?: string;
    q?: string;
    cursor?: string | null;
    limit?: number;
  }) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q))
      if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
    return api<{ videos: Video[]; nextCursor: string | null }>(`/api/videos?${p}`);
  },
  video: (id: string) => api<Video | { video: Video }>(`/api/videos/${id}`).then(unwrapVideo),
  videoStatus: (ids: string[]) =>
    api<{ videos: Video[] }>(`/api/videos/status?videoIds=${ids.map(encodeURIComponent).join(',')}`),
  renameVideo: (id: string, name: string) =>
    api<Video | { video: Video }>(`/api/videos/${id}`, json('PATCH', { name })).then(unwrapVideo),
  deleteVideo: (id: string) => api<unknown>(`/api/videos/${id}`, { method: 'DELETE' }),
  retryVideo: (id: string) => api<unknown>(`/api/videos/${id}/retry`, { method: 'POST' }),
  timeline: (projectId: string) => api<{ items: TimelineItem[] }>(`/api/projects/${projectId}/timeline`),
  saveTimeline: (projectId: string, items: TimelineItem[]) =>
    api<{ items: TimelineItem[] }>(`/api/projects/${projectId}/timeline`, json('PUT', { items })),
};

function unwrapVideo(v: Video | { video: Video }): Video {
  return 'video' in v && typeof v.video === 'object' && v.video !== null && 'id' in v.video
    ? v.video
    : (v as Video);
}
