/**
 * The one error model. Every failure a caller can see has a code from this catalogue, an HTTP
 * status, and a message a person can act on. `src/http/error-handler.ts` renders it.
 */
export const ERRORS = {
  BAD_REQUEST: [400, 'The request is not valid.'],
  VALIDATION_FAILED: [400, 'Some fields are missing or invalid.'],
  UNAUTHENTICATED: [401, 'Sign in first: send "Authorization: Bearer <token>".'],
  INVALID_CREDENTIALS: [401, 'The email or password is wrong.'],
  FORBIDDEN: [403, 'You may not do this.'],
  CROSS_ORIGIN_REFUSED: [
    403,
    'This request came from another site or page than this app. Use the app itself, or send "Authorization: Bearer <token>" from scripts.',
  ],
  SIGNED_URL_INVALID: [
    403,
    'This link has expired or was altered. Open the video again to get a fresh link.',
  ],
  SESSION_REQUIRED: [
    403,
    'A personal API token cannot do this. Sign in (the web app, or POST /api/auth/login) and try again.',
  ],
  API_TOKEN_NOT_FOUND: [404, 'No such API token in your account (it may be revoked already).'],
  API_TOKEN_EXPIRY_INVALID: [400, 'expiresAt must be a time in the future.'],
  TOO_MANY_API_TOKENS: [
    409,
    'You have too many API tokens. Revoke ones you no longer use, then create it again.',
  ],
  NOT_FOUND: [404, 'Nothing is here.'],
  VIDEO_NOT_FOUND: [404, 'No such video in your library.'],
  PROJECT_NOT_FOUND: [404, 'No such project in your account.'],
  SESSION_NOT_FOUND: [404, 'No such upload session in your account.'],
  UPLOAD_NOT_FOUND: [404, 'No such upload. Create it again from its upload session.'],
  EMAIL_TAKEN: [409, 'An account with this email exists already. Sign in instead.'],
  VIDEO_NOT_AWAITING_UPLOAD: [409, 'This video is not waiting for an upload.'],
  UPLOAD_ALREADY_FINISHED: [
    409,
    'This upload has finished, so it cannot be canceled; the video is kept. Delete it from the library (DELETE /api/videos/:id) if you no longer want it.',
  ],
  VIDEO_NOT_RETRYABLE: [409, 'Only a failed or canceled video can be retried.'],
  VIDEO_NOT_READY: [409, 'This video is not ready yet.'],
  UPLOAD_LENGTH_MISMATCH: [400, 'The upload length differs from the size declared in the upload session.'],
  UPLOAD_METADATA_MISSING: [400, 'Send the upload metadata returned by POST /api/upload-sessions.'],
  UPLOAD_EXPIRED: [410, 'This upload did not finish in time and was discarded. Upload the file again.'],
  UPLOAD_LOCKED: [423, 'Another request is writing to this upload. Try again in a moment.'],
  TOO_MANY_UPLOADS: [
    429,
    'You have too many upload requests running at once. Let one finish, then resume this upload (see Retry-After).',
  ],
  UPLOADS_BUSY: [
    503,
    'This server is handling as many uploads as it can right now. Resume this upload in a few seconds (see Retry-After).',
  ],
  TOO_MANY_FILES: [400, 'Too many files in one upload session.'],
  FILE_TOO_LARGE: [413, 'A file is larger than the per-file limit.'],
  FILE_EMPTY: [400, 'A file is empty (0 bytes). Pick the video file itself.'],
  UNSUPPORTED_FILE_TYPE: [
    415,
    'This file type is not accepted. Upload a video (MP4, MOV, WebM, MKV, AVI, ...).',
  ],
  NOT_A_VIDEO: [415, 'The file content is not a video container, whatever its name says.'],
  AMBIGUOUS_MEDIA: [
    422,
    'This file reads as two different things at once (a video and a playlist, or a tag in front of a video). Export the video again from its source and upload that file.',
  ],
  INSUFFICIENT_CREDITS: [402, 'Not enough credits for these videos.'],
  STORAGE_QUOTA_EXCEEDED: [413, 'Not enough storage quota left for these files.'],
  RANGE_NOT_SATISFIABLE: [416, 'The requested byte range is outside the file.'],
  NO_VIDEO_STREAM: [
    422,
    'This file has no video picture (it is audio only). Upload a file that contains video.',
  ],
  IMAGE_NOT_VIDEO: [422, 'This file is a still image or an animated GIF, not a video. Upload a video file.'],
  NOT_A_MEDIA_FILE: [
    422,
    'This file is not audio or video at all, whatever its name says. Upload the video itself.',
  ],
  TRUNCATED_MEDIA: [
    422,
    'This video file is incomplete (cut off before its end). Export or copy it again, then upload the complete file.',
  ],
  CORRUPT_MEDIA: [422, 'This video file is damaged and cannot be decoded. Export it again from its source.'],
  UNSUPPORTED_CODEC: [
    422,
    'This video uses a codec Clipdock cannot decode. Export it as H.264 MP4 and upload again.',
  ],
  DURATION_TOO_LONG: [
    422,
    'This video is longer than this server accepts. Trim it or split it, then upload again.',
  ],
  DIMENSIONS_TOO_LARGE: [
    422,
    'This video has a larger picture than this server accepts. Export it at a lower resolution.',
  ],
  WORK_BUDGET_EXCEEDED: [
    422,
    'This video has more picture to convert (width × height × frames) than this server accepts. Export it shorter, at a lower resolution or frame rate, then upload again.',
  ],
  MEDIA_TOOL_CRASHED: [
    422,
    'This file makes the converter crash. Export it again as H.264 MP4 and upload that.',
  ],
  FAILURE_IS_PERMANENT: [
    409,
    'This video failed because of the file itself: running it again would fail the same way. Delete it, or upload a new export of the video.',
  ],
  RETRY_LIMIT_REACHED: [
    429,
    'This video was run again as often as this server allows (MAX_RETRIES_PER_VIDEO). Delete it and upload the file again.',
  ],
  DAILY_RETRY_LIMIT_REACHED: [
    429,
    'You asked for as many retries and re-analyses today as this server allows (MAX_RETRIES_PER_USER_PER_DAY). Try again tomorrow.',
  ],
  PROCESSING_TIMEOUT: [
    500,
    'Processing took longer than this server allows (PROCESSING_STEP_TIMEOUT_SECONDS). Retry, or upload a shorter video.',
  ],
  PROCESSING_FAILED: [500, 'Processing failed on our side several times. Retry later; the original is kept.'],
  DATABASE_UNAVAILABLE: [503, 'The database is not answering. Try again shortly.'],
  STORAGE_UNAVAILABLE: [503, 'The storage backend is not answering. Try again shortly.'],
  STORAGE_FULL: [
    507,
    "The server's storage is full, so this could not be stored. Try again later (an upload resumes where it stopped: the bytes received so far are kept); the server's operator has been told.",
  ],
  TIMELINE_INVALID_RANGE: [
    400,
    'In and out points must lie inside the clip, and a clip must end after it starts.',
  ],
  INVALID_CURSOR: [400, 'This page cursor is not valid. Start again from the first page (omit cursor).'],
  UPGRADE_REQUIRED: [426, 'Connect with a WebSocket client (Upgrade: websocket) to receive live status.'],
  STATUS_QUERY_MISSING: [400, 'Say which videos: ?videoIds=a,b,c or ?sessionId=S.'],
  TOO_MANY_ATTEMPTS: [429, 'Too many attempts. Wait a while, then try again.'],
  SIGNUP_DISABLED: [
    403,
    'This server does not accept new accounts. Ask its administrator to create one for you.',
  ],
  SERVER_BUSY: [503, 'The server is busy checking passwords. Try again in a few seconds.'],
  WEBHOOK_NOT_FOUND: [404, 'No such webhook in your account (it may be deleted already).'],
  WEBHOOK_DELIVERY_NOT_FOUND: [404, 'No such delivery for this webhook.'],
  WEBHOOK_URL_INVALID: [422, 'The webhook URL must be an absolute http:// or https:// URL.'],
  WEBHOOK_URL_UNRESOLVABLE: [
    422,
    "The webhook URL's host name does not resolve. Check the spelling, or use a name with public DNS.",
  ],
  WEBHOOK_URL_PRIVATE: [
    422,
    'The webhook URL points to a private, loopback, link-local or metadata address, which this server does not call. Use a public address (or set WEBHOOK_ALLOW_PRIVATE=true on a closed network).',
  ],
  TOO_MANY_WEBHOOKS: [409, 'You have too many webhooks. Delete ones you no longer use, then add it again.'],
  ADMIN_ONLY: [403, 'Only an administrator of this server may do this (see ADMIN_EMAILS).'],
  METRICS_TOKEN_REQUIRED: [401, 'Send "Authorization: Bearer <METRICS_TOKEN>" to read the metrics.'],
  CLEANUP_RUNNING: [
    409,
    'A cleanup run is in progress already. Wait for it to finish (see GET /api/admin/cleanup-runs).',
  ],
  NOT_READY: [503, 'This node cannot serve right now: the database or the storage does not answer.'],
  ORIGINAL_MISSING: [
    409,
    "This video's original file is missing from storage (lost or deleted outside Clipdock). Upload the file again.",
  ],
  UPLOAD_OFFSET_CHANGED: [
    409,
    "The server lost this upload's last bytes (those not yet part of a complete part). Ask for the offset with HEAD and resume from there.",
  ],
  INTERNAL: [500, 'Something went wrong on our side. It was logged; try again.'],
  ANALYSIS_RUNNING: [409, 'This video is being analysed already; re-analyse it once its analysis is done.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERRORS[code][1]);
    this.code = code;
    this.status = ERRORS[code][0];
    this.details = details;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
