import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { type AbuseConfig, abuseConfig, abuseSchema } from './config-abuse.ts';
import { type AlertsConfig, alertsConfig, alertsSchema } from './config-alerts.ts';
import { type OpsConfig, opsConfig, opsSchema } from './config-ops.ts';

/**
 * Every setting Clipdock reads. Parsed once at start-up by `loadConfig`, then passed in:
 * nothing below `src/main.ts` reads `process.env`.
 */
const GiB = 1024 ** 3;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean),
);

export const DEFAULT_VIDEO_EXTENSIONS = [
  'mp4',
  'mov',
  'm4v',
  'webm',
  'mkv',
  'avi',
  'mts',
  'm2ts',
  'ts',
  '3gp',
  '3g2',
  'mpg',
  'mpeg',
  'wmv',
  'flv',
  'ogv',
  'mxf',
];

const schema = z.object({
  PORT: int(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url().optional(),
  CLIPDOCK_DATA_DIR: z.string().min(1).default('./.clipdock'),
  CLIPDOCK_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_SIZE: int(2).default(10),
  STORAGE_DRIVER: z.enum(['fs', 's3']).default('fs'),
  S3_BUCKET: z.string().min(1).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ENDPOINT: z.url().optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_UPLOAD_PART_MIB: int(5).max(5120).default(8),
  MAX_FILES_PER_SESSION: int(1).default(20),
  MAX_FILE_BYTES: int(1).default(10 * GiB),
  ACCEPTED_VIDEO_EXTENSIONS: list.default(DEFAULT_VIDEO_EXTENSIONS),
  CREDITS_PER_VIDEO: int(0).default(10),
  STARTING_CREDITS: int(0).default(1000),
  STORAGE_QUOTA_BYTES: int(1).default(100 * GiB),
  UPLOAD_EXPIRY_HOURS: int(1).default(24),
  WORKER_CONCURRENCY: int(1).default(Math.max(1, Math.min(4, availableParallelism()))),
  FFMPEG_THREADS: int(0).default(Math.max(1, availableParallelism())),
  FFMPEG_PATH: z.string().min(1).optional(),
  FFPROBE_PATH: z.string().min(1).optional(),
  PROCESSING_MAX_ATTEMPTS: int(1).default(5),
  PROCESSING_STEP_TIMEOUT_SECONDS: int(1).default(3600),
  PROCESSING_STALE_SECONDS: int(3).default(15),
  MAX_DURATION_SECONDS: int(1).default(6 * 3600),
  MAX_DIMENSION: int(16).default(8192),
  // Width × height × frames of one video: 3840×2160 at 60 fps for an hour is 1.79e12.
  MAX_PIXEL_FRAMES: int(1).default(1.8e12),
  MAX_RETRIES_PER_VIDEO: int(0).default(5),
  MAX_RETRIES_PER_USER_PER_DAY: int(0).default(50),
  ASSEMBLYAI_API_KEY: z.string().min(1).optional(),
  ASSEMBLYAI_BASE_URL: z.url().default('https://api.assemblyai.com'),
  SIGNING_SECRET: z.string().min(16).optional(),
  SESSION_TTL_HOURS: int(1).default(7 * 24),
  MEDIA_URL_TTL_SECONDS: int(60).default(3600),
  LIVE_PING_INTERVAL_SECONDS: int(1).default(30),
  BODY_IDLE_TIMEOUT_SECONDS: int(1).default(60),
  MAX_CONCURRENT_UPLOADS_PER_USER: int(1).default(8),
  LOCK_POOL_SIZE: int(1).default(16),
  MAX_SOCKETS_PER_USER: int(1).default(20),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().positive().max(60).default(10),
  WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().positive().default(30),
  WEBHOOK_MAX_ATTEMPTS: int(1).max(50).default(14),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ...abuseSchema,
  ...opsSchema,
  ...alertsSchema,
});

/** Checks across variables; run on the raw values so they are reported beside the per-variable ones. */
function crossChecks(env: Record<string, string>): string[] {
  const problems: string[] = [];
  if (env.STORAGE_DRIVER === 's3') {
    for (const key of ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      if (!env[key]) problems.push(`  - ${key}: is required when STORAGE_DRIVER=s3`);
    }
    // S3 allows 10,000 parts per multipart upload: the largest file must fit.
    const partMib = Number(env.S3_UPLOAD_PART_MIB ?? 8);
    const maxBytes = Number(env.MAX_FILE_BYTES ?? 10 * GiB);
    if (partMib >= 5 && maxBytes > 0 && Math.ceil(maxBytes / (partMib * 1024 * 1024)) > 10_000) {
      problems.push(
        `  - S3_UPLOAD_PART_MIB: ${partMib} MiB parts hold at most ${partMib * 10_000} MiB in S3's 10,000 parts, less than MAX_FILE_BYTES; raise it to ${Math.ceil(maxBytes / 10_000 / 1024 / 1024)}`,
      );
    }
  }
  return problems;
}

export type RawConfig = z.infer<typeof schema>;

export interface Config {
  port: number;
  host: string;
  publicUrl: string | undefined;
  dataDir: string;
  role: 'all' | 'api' | 'worker';
  databaseUrl: string | undefined;
  databasePoolSize: number;
  storage:
    | { driver: 'fs'; root: string }
    | {
        driver: 's3';
        bucket: string;
        region: string;
        endpoint: string | undefined;
        accessKeyId: string;
        secretAccessKey: string;
        forcePathStyle: boolean;
        /** Size of every part of an upload's multipart upload but the last (S3_UPLOAD_PART_MIB). */
        uploadPartBytes?: number;
      };
  /** Where tus keeps partial uploads when storage is on local disk. */
  uploadsDir: string;
  limits: {
    maxFilesPerSession: number;
    maxFileBytes: number;
    acceptedExtensions: string[];
    creditsPerVideo: number;
    startingCredits: number;
    storageQuotaBytes: number;
    uploadExpiryHours: number;
    maxDurationSeconds: number;
    maxDimension: number;
    /** Width × height × frames a video may need converted; more is refused at probe. */
    maxPixelFrames: number;
    /** Retries and re-analyses a user may ask for, per video and per user in 24 h. */
    maxRetriesPerVideo: number;
    maxRetriesPerUserPerDay: number;
  };
  worker: {
    concurrency: number;
    ffmpegThreads: number;
    maxAttempts: number;
    stepTimeoutSeconds: number;
    /** A processing video whose heartbeat is older than this, and whose job nobody runs, is resumed. */
    staleSeconds: number;
  };
  media: { ffmpegPath: string | undefined; ffprobePath: string | undefined };
  transcription: { assemblyAiApiKey: string | undefined; assemblyAiBaseUrl: string };
  signingSecret: string | undefined;
  auth: {
    /** A session unused for this long expires; every use pushes its expiry this far ahead. */
    sessionTtlHours: number;
    /** Signed media URLs are valid at least this long (see src/accounts/media-urls.ts). */
    mediaUrlTtlSeconds: number;
  };
  /** WebSocket ping period; a socket that missed the previous ping is dropped. */
  livePingIntervalSeconds: number;
  /** Limits on what one connection or one user may hold (slow and greedy clients). */
  connections: {
    /** A connection that sends (or reads) nothing for this long is closed; uploads stay resumable. */
    bodyIdleTimeoutSeconds: number;
    /** Tus requests with a body (PATCH, POST) one user may run at once on one node. */
    maxConcurrentUploadsPerUser: number;
    /** Dedicated connections of the tus lock pool (one per upload request in flight). */
    lockPoolSize: number;
    /** Live WebSockets one user may hold open on one node. */
    maxSocketsPerUser: number;
  };
  /** Outgoing webhooks (src/webhooks/). */
  webhooks: {
    /** Lets webhook URLs reach private, loopback and link-local addresses (tests, closed networks). */
    allowPrivate: boolean;
    /** Per attempt: connect, send and read the answer. */
    timeoutSeconds: number;
    /** The wait after the first failed attempt; it doubles after each further one (capped at 6 h). */
    retryBaseSeconds: number;
    /** Attempts per delivery before it is marked failed (the default spans about a day). */
    maxAttempts: number;
  };
  logLevel: RawConfig['LOG_LEVEL'];
  /** Rate limits, signup policy, admins, proxies: src/config-abuse.ts. */
  abuse: AbuseConfig;
  /** Metrics and the cleanup sweep: src/config-ops.ts. */
  ops: OpsConfig;
  /** Alert rules and where alerts go: src/config-alerts.ts. */
  alerts: AlertsConfig;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws one ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", as in most twelve-factor apps.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  const parsed = schema.safeParse(cleaned);
  const lines = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(env)'}: ${i.message}`)),
    ...crossChecks(cleaned),
  ];
  if (!parsed.success || lines.length > 0) {
    throw new ConfigError(`Invalid configuration (${lines.length} problem(s)):\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const dataDir = path.resolve(c.CLIPDOCK_DATA_DIR);
  return {
    port: c.PORT,
    host: c.HOST,
    publicUrl: c.PUBLIC_URL,
    dataDir,
    role: c.CLIPDOCK_ROLE,
    databaseUrl: c.DATABASE_URL,
    databasePoolSize: c.DATABASE_POOL_SIZE,
    storage:
      c.STORAGE_DRIVER === 's3'
        ? {
            driver: 's3',
            bucket: c.S3_BUCKET!,
            region: c.S3_REGION,
            endpoint: c.S3_ENDPOINT,
            accessKeyId: c.S3_ACCESS_KEY_ID!,
            secretAccessKey: c.S3_SECRET_ACCESS_KEY!,
            forcePathStyle: c.S3_FORCE_PATH_STYLE,
            uploadPartBytes: c.S3_UPLOAD_PART_MIB * 1024 * 1024,
          }
        : { driver: 'fs', root: path.join(dataDir, 'storage') },
    uploadsDir: path.join(dataDir, 'uploads'),
    limits: {
      maxFilesPerSession: c.MAX_FILES_PER_SESSION,
      maxFileBytes: c.MAX_FILE_BYTES,
      acceptedExtensions: c.ACCEPTED_VIDEO_EXTENSIONS,
      creditsPerVideo: c.CREDITS_PER_VIDEO,
      startingCredits: c.STARTING_CREDITS,
      storageQuotaBytes: c.STORAGE_QUOTA_BYTES,
      uploadExpiryHours: c.UPLOAD_EXPIRY_HOURS,
      maxDurationSeconds: c.MAX_DURATION_SECONDS,
      maxDimension: c.MAX_DIMENSION,
      maxPixelFrames: c.MAX_PIXEL_FRAMES,
      maxRetriesPerVideo: c.MAX_RETRIES_PER_VIDEO,
      maxRetriesPerUserPerDay: c.MAX_RETRIES_PER_USER_PER_DAY,
    },
    worker: {
      concurrency: c.WORKER_CONCURRENCY,
      ffmpegThreads: c.FFMPEG_THREADS,
      maxAttempts: c.PROCESSING_MAX_ATTEMPTS,
      stepTimeoutSeconds: c.PROCESSING_STEP_TIMEOUT_SECONDS,
      staleSeconds: c.PROCESSING_STALE_SECONDS,
    },
    media: { ffmpegPath: c.FFMPEG_PATH, ffprobePath: c.FFPROBE_PATH },
    transcription: { assemblyAiApiKey: c.ASSEMBLYAI_API_KEY, assemblyAiBaseUrl: c.ASSEMBLYAI_BASE_URL },
    signingSecret: c.SIGNING_SECRET,
    auth: { sessionTtlHours: c.SESSION_TTL_HOURS, mediaUrlTtlSeconds: c.MEDIA_URL_TTL_SECONDS },
    livePingIntervalSeconds: c.LIVE_PING_INTERVAL_SECONDS,
    connections: {
      bodyIdleTimeoutSeconds: c.BODY_IDLE_TIMEOUT_SECONDS,
      maxConcurrentUploadsPerUser: c.MAX_CONCURRENT_UPLOADS_PER_USER,
      lockPoolSize: c.LOCK_POOL_SIZE,
      maxSocketsPerUser: c.MAX_SOCKETS_PER_USER,
    },
    webhooks: {
      allowPrivate: c.WEBHOOK_ALLOW_PRIVATE,
      timeoutSeconds: c.WEBHOOK_TIMEOUT_SECONDS,
      retryBaseSeconds: c.WEBHOOK_RETRY_BASE_SECONDS,
      maxAttempts: c.WEBHOOK_MAX_ATTEMPTS,
    },
    logLevel: c.LOG_LEVEL,
    abuse: abuseConfig(c),
    ops: opsConfig(c),
    alerts: alertsConfig(c),
  };
}
