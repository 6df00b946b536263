import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { contentDisposition, servedType } from '../storage/served-types.ts';

/**
 * Headers on every response that carries stored bytes. Whatever a stranger uploaded, a browser
 * must never run it as a page of this origin: it may not guess another type (nosniff), and were
 * it ever rendered as a document, it would have no origin, scripts or subresources (sandbox).
 */
export const STORED_BYTES_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "sandbox; default-src 'none'",
} as const;

export interface ServeOptions {
  /** The type Clipdock determined; a missing or active type is served as application/octet-stream. */
  contentType: string | null | undefined;
  /** `attachment` for originals (downloaded, never displayed); `inline` for outputs Clipdock made. */
  disposition: 'inline' | 'attachment';
  downloadName?: string;
  cacheSeconds?: number;
}

/**
 * Streams a stored object with HTTP Range support (single ranges: what browsers' media elements
 * and download managers send), so videos seek without downloading everything first. The stored
 * object's own type is never used: on S3 it may be what a client declared.
 */
export async function serveObject(
  req: FastifyRequest,
  reply: FastifyReply,
  store: ObjectStore,
  key: string,
  opts: ServeOptions,
): Promise<FastifyReply> {
  const info = await store.head(key);
  if (!info) throw new AppError('NOT_FOUND', 'This file is not stored (any more).');
  const size = info.size;
  reply.headers(STORED_BYTES_HEADERS);
  reply.header('accept-ranges', 'bytes');
  reply.header('last-modified', info.lastModified.toUTCString());
  reply.header('cache-control', `private, max-age=${opts.cacheSeconds ?? 0}`);

  const header = req.headers.range;
  const range = header ? parseRange(header, size) : undefined;
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${size}`);
    throw new AppError('RANGE_NOT_SATISFIABLE', `The range "${header}" is outside this ${size}-byte file.`);
  }
  // Set only now: an error above is rendered as JSON.
  reply.header('content-type', servedType(opts.contentType));
  reply.header('content-disposition', contentDisposition(opts.disposition, opts.downloadName));
  if (req.method === 'HEAD') {
    reply.header('content-length', range ? range.end - range.start + 1 : size);
    if (range) reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    return reply.send();
  }
  if (size === 0) return reply.header('content-length', 0).send('');
  if (range) {
    reply.status(206);
    reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    reply.header('content-length', range.end - range.start + 1);
    return reply.send(await store.get(key, range));
  }
  reply.header('content-length', size);
  return reply.send(await store.get(key));
}

/**
 * Parses one "bytes=a-b", "bytes=a-" or "bytes=-n" range. Multi-range requests are answered
 * with the whole body (RFC 9110 allows ignoring Range), so they return undefined.
 */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
