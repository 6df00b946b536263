import { Api, ApiError } from '../api.ts';

/**
 * Upload sessions for any number of files. The server takes at most `maxFilesPerSession` files
 * per session (/api/me limits), so a larger drop is split into sessions of that size, opened one
 * after another: each batch's files can start as soon as its session exists, and a batch the
 * server refuses (credits, quota) fails only its own files, with the server's reason on each;
 * the other batches go on.
 */

export interface BatchFile {
  key: string;
  file: File;
  /** identity.ts fingerprintOf the file, sent with the session (duplicate detection); null when unknown. */
  fingerprint?: string | null | undefined;
}

export interface OpenedFile extends BatchFile {
  videoId: string;
  endpoint: string;
  metadata: Record<string, string>;
}

export function splitIntoBatches<T>(items: T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size) || 1);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

export async function openSessions(
  projectId: string,
  files: BatchFile[],
  maxFilesPerSession: number,
  handlers: {
    /** One batch's files got their videos: they may start now. */
    opened: (files: OpenedFile[]) => Promise<void> | void;
    /** The server refused one batch: each of its files gets `reason`, once. */
    refused: (files: BatchFile[], reason: string) => void;
  },
): Promise<void> {
  for (const batch of splitIntoBatches(files, maxFilesPerSession)) {
    try {
      const session = await Api.createUploadSession(
        projectId,
        batch.map((a) => ({
          name: a.file.name,
          size: a.file.size,
          type: a.file.type,
          ...(a.fingerprint ? { fingerprint: a.fingerprint } : {}),
        })),
      );
      await handlers.opened(
        batch.map((a, i) => {
          const f = session.files[i]!;
          return { ...a, videoId: f.videoId, endpoint: f.upload.endpoint, metadata: f.upload.metadata };
        }),
      );
    } catch (err) {
      const reason = err instanceof ApiError ? err.message : 'The upload could not start. Try again.';
      handlers.refused(batch, reason);
    }
  }
}
