import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { type ByteRange, StorageNotFoundError } from './object-store.ts';

/** How S3-compatible servers answer: not-found, unsupported APIs, ranges that overrun. */

export function isNotFound(err: unknown): boolean {
  if (err instanceof StorageNotFoundError) return true;
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
}

/** The server lacks this S3 API (S3's own error codes for that, or 501/405): fall back to single calls. */
export function isUnsupported(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  const status = err.$metadata?.httpStatusCode;
  return err.name === 'NotImplemented' || err.name === 'MethodNotAllowed' || status === 501 || status === 405;
}

export function isServerFault(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.$metadata?.httpStatusCode ?? 0) >= 500;
}

export function mapNotFound(err: unknown, key: string): unknown {
  return isNotFound(err) ? new StorageNotFoundError(key) : err;
}

/**
 * The SDK sends application/octet-stream when no type is given, and servers default to
 * binary/octet-stream: both mean "no particular type", reported as undefined like the fs store.
 */
export function normalizeContentType(type: string | undefined): string | undefined {
  return type === undefined || type === 'binary/octet-stream' || type === 'application/octet-stream'
    ? undefined
    : type;
}

/**
 * Some S3-compatible servers answer a range with more than was asked (s3rver reads "bytes=0-0"
 * as "from 0 to the end"; others ignore Range and send 200 with everything). The answer's
 * Content-Range says where its bytes start; skip to the requested start and stop after the
 * requested length, so callers always get exactly the range. On a conforming server this is a
 * pass-through that counts bytes.
 */
export function exactRange(body: Readable, range: ByteRange, contentRange: string | undefined): Readable {
  const servedStart = Number(/^bytes (\d+)-/.exec(contentRange ?? '')?.[1] ?? 0);
  let skip = Math.max(0, range.start - servedStart);
  let left = range.end - range.start + 1;
  const out = new PassThrough();
  body.on('error', (err) => out.destroy(err));
  out.on('close', () => body.destroy());
  (async () => {
    for await (const chunk of body) {
      let buf = chunk as Buffer;
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        skip -= n;
        buf = buf.subarray(n);
      }
      const excess = buf.length > left;
      if (excess) buf = buf.subarray(0, left);
      left -= buf.length;
      if (buf.length > 0 && !out.write(buf)) await once(out, 'drain');
      // Only cut the answer short when it overran; a conforming answer is read to its end so
      // its keep-alive connection can be reused.
      if (excess) break;
    }
    out.end();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out;
}
