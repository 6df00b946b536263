import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { ambiguousMessage, DETECT_BYTES, type Detection, detectContainer } from '../media/container.ts';
import { keys } from '../storage/object-store.ts';

/**
 * The content verdict on an upload, in words a person can act on. Given twice: by the sniff on
 * the first request that carries the head, and again at finish on the stored bytes (a first
 * request cut short, or any request on S3, may have left it undetermined).
 */
export function refusalOf(name: string, d: Exclude<Detection, { kind: 'video' }>): AppError {
  if (d.kind === 'ambiguous') return new AppError('AMBIGUOUS_MEDIA', ambiguousMessage(d, name));
  const looksLike = d.kind === 'not_video' ? d.looksLike : 'data of an unknown kind';
  return new AppError(
    'NOT_A_VIDEO',
    `"${name}" is not a video: it looks like ${looksLike}. Upload the video file itself (MP4, MOV, WebM, MKV, ...).`,
  );
}

/** Detection on the first bytes of a finished upload's stored original (a ranged read on S3). */
export async function detectStoredOriginal(
  ctx: AppContext,
  videoId: string,
  size: number,
): Promise<Detection> {
  const want = Math.min(size, DETECT_BYTES);
  const chunks: Buffer[] = [];
  if (want > 0) {
    for await (const c of await ctx.store.get(keys.original(videoId), { start: 0, end: want - 1 })) {
      chunks.push(c as Buffer);
    }
  }
  return detectContainer(Buffer.concat(chunks).subarray(0, want), size <= DETECT_BYTES);
}
