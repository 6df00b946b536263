import { createReadStream } from 'node:fs';
import * as tus from 'tus-js-client';
import { CliError, EXIT, exitCodeOf } from './errors.ts';
import { Throttle } from './throttle.ts';

export interface TusFileOptions {
  path: string;
  size: number;
  endpoint: string;
  metadata: Record<string, string>;
  /** An upload created by an earlier run: continue it (HEAD, then PATCH from its offset). */
  uploadUrl: string | undefined;
  headers: Record<string, string>;
  chunkSize: number;
  /** Bytes per second, or 0 for no limit. */
  limitRate: number;
  retryDelays: number[];
  onUploadUrl: (url: string) => void;
  /** The server's offset from a HEAD: where a resumed upload continues. */
  onServerOffset: (offset: number) => void;
  onProgress: (sent: number) => void;
}

export interface RunningUpload {
  done: Promise<void>;
  /** Stops sending; the bytes the server has are kept for the next run. */
  stop(): Promise<void>;
}

/** One file sent with tus-js-client's Node stack, resumable from `uploadUrl`. */
export function startTusUpload(o: TusFileOptions): RunningUpload {
  let upload!: tus.Upload;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    fail = reject;
    upload = new tus.Upload(createReadStream(o.path), {
      endpoint: o.endpoint,
      uploadUrl: o.uploadUrl ?? null,
      metadata: o.metadata,
      headers: o.headers,
      uploadSize: o.size,
      chunkSize: o.chunkSize,
      retryDelays: o.retryDelays,
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: false,
      ...(o.limitRate > 0 ? { fileReader: throttledReader(o.limitRate) } : {}),
      onUploadUrlAvailable: () => {
        if (upload.url) o.onUploadUrl(upload.url);
      },
      onAfterResponse: (req, res) => {
        if (req.getMethod() !== 'HEAD') return;
        const offset = Number(res.getHeader('Upload-Offset'));
        if (res.getStatus() < 300 && Number.isFinite(offset)) o.onServerOffset(offset);
      },
      onProgress: (sent) => o.onProgress(sent),
      onShouldRetry: (err) => {
        const status = err.originalResponse?.getStatus() ?? 0;
        // A refusal stays a refusal; busy, locked and network failures are worth another try.
        return !(status >= 400 && status < 500 && ![408, 409, 423, 429].includes(status));
      },
      onError: (err) => reject(uploadError(err)),
      onSuccess: () => resolve(),
    });
    upload.start();
  });
  return {
    done,
    // tus-js-client settles nothing on abort: the stop does, so the run can end.
    stop: async () => {
      await upload.abort(false);
      fail(new CliError('INTERRUPTED', 'Stopped before the upload finished.', EXIT.interrupted));
    },
  };
}

/** tus-js-client's file reader with each slice piped through a Throttle. */
function throttledReader(rate: number) {
  const base = tus.defaultOptions.fileReader;
  return {
    async openFile(input: unknown, chunkSize: number) {
      const source = await base.openFile(input as never, chunkSize);
      return {
        size: source.size,
        async slice(start: number, end: number) {
          const part = await source.slice(start, end);
          const stream = part.value as unknown as NodeJS.ReadableStream & { size?: number };
          const throttled = stream.pipe(new Throttle(rate)) as Throttle & { size?: number };
          throttled.size = stream.size ?? end - start;
          return { ...part, value: throttled as never };
        },
        close: () => source.close(),
      };
    },
  };
}

/** A tus failure as a CliError: the server's own code and message when it sent one. */
export function uploadError(err: Error): CliError {
  const res = (err as tus.DetailedError).originalResponse;
  const status = res?.getStatus() ?? 0;
  const body = res?.getBody();
  if (body) {
    try {
      const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
      if (parsed.error?.code) {
        return new CliError(
          parsed.error.code,
          parsed.error.message ?? parsed.error.code,
          exitCodeOf(parsed.error.code, status),
        );
      }
    } catch {
      // Not JSON: fall through to the generic message.
    }
  }
  if (status === 401) {
    return new CliError('UNAUTHENTICATED', 'The server refused the API token during the upload.', EXIT.auth);
  }
  const cause = (err as tus.DetailedError).causingError?.message ?? err.message;
  return new CliError(
    status ? `HTTP_${status}` : 'NETWORK_ERROR',
    `The upload stopped after several attempts (${status ? `HTTP ${status}` : cause}). Run the same command again to resume it.`,
    status >= 500 || !status ? EXIT.server : EXIT.someFailed,
  );
}
