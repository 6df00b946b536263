import type { AppContext } from '../context.ts';
import { outputResponse } from '../storage/served-types.ts';

/**
 * URLs of stored media (posters, outputs, storyboards, originals) that a media element can load
 * without headers: the API path with a short-lived signature bound to that exact path and its
 * owner (see Signer). On S3, outputs are the bucket's own presigned URLs instead.
 *
 * Expiries are rounded up to a step, so the URL of one file stays the same for a while and the
 * browser's cache keeps working across list refreshes; each URL is valid for at least the TTL.
 */
export type MediaContext = Pick<AppContext, 'signer' | 'store' | 'config'>;

/** The routes a media signature may authorise (GET and HEAD only). */
export const SIGNED_MEDIA_ROUTES: ReadonlySet<string> = new Set([
  '/api/videos/:id/original',
  '/api/videos/:id/outputs/:name',
]);

export const originalPath = (videoId: string) => `/api/videos/${encodeURIComponent(videoId)}/original`;

export function signedPath(ctx: MediaContext, path: string, userId: string, nowMs = Date.now()): string {
  const ttl = ctx.config.auth.mediaUrlTtlSeconds;
  const step = Math.min(600, ttl);
  const exp = Math.ceil((nowMs / 1000 + ttl) / step) * step;
  return ctx.signer.mediaPath(path, userId, exp);
}

/**
 * The URL for an output that the API serves at `apiPath`: presigned by the store when it can, with
 * the type and disposition Clipdock chose signed into it (the bucket's stored type is not trusted).
 */
export async function objectUrl(
  ctx: MediaContext,
  key: string,
  apiPath: string,
  userId: string,
): Promise<string> {
  return (
    (await ctx.store.signedUrl(key, ctx.config.auth.mediaUrlTtlSeconds, outputResponse(key))) ??
    signedPath(ctx, apiPath, userId)
  );
}
