import type { SignedResponse } from './object-store.ts';

/**
 * What type stored bytes are served with. Only Clipdock's own verdict counts (the sniffed
 * container of an original, the extension of an output it wrote); a client's declared type never
 * does. Whatever that verdict says, only types a browser will not run as a document pass:
 * anything else is served as opaque bytes.
 */
export const OPAQUE = 'application/octet-stream';

const PASSIVE = /^(video|audio)\/[a-z0-9][a-z0-9.+-]*$|^image\/(jpeg|png|webp|gif)$|^application\/json$/;

/** `type` when it is a passive media type Clipdock determined, else application/octet-stream. */
export function servedType(type: string | null | undefined): string {
  const t = type?.trim().toLowerCase();
  return t && PASSIVE.test(t) ? t : OPAQUE;
}

const OUTPUT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  jpg: 'image/jpeg',
  json: 'application/json',
};

/** The type of an output Clipdock wrote, from its file name or storage key. */
export function outputType(nameOrKey: string): string {
  return OUTPUT_TYPES[nameOrKey.slice(nameOrKey.lastIndexOf('.') + 1).toLowerCase()] ?? OPAQUE;
}

/** A Content-Disposition value; the name is percent-encoded (RFC 8187), with an ASCII fallback. */
export function contentDisposition(kind: 'inline' | 'attachment', fileName?: string): string {
  if (!fileName) return kind;
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/** How a signed URL serves an output Clipdock wrote: its own type, shown inline. */
export const outputResponse = (key: string): SignedResponse => ({
  contentType: outputType(key),
  contentDisposition: 'inline',
});
