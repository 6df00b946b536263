import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { DataStore, ERRORS, Upload } from '@tus/utils';
import type { Db } from '../db/database.ts';
import { keys } from '../storage/object-store.ts';
import { releaseChunk } from './release-written.ts';
import { MAX_PARTS, PartWriter } from './s3-part-writer.ts';
import {
  discardS3Upload,
  offsetOf,
  type S3Part,
  S3UploadRows,
  type S3UploadState,
} from './s3-upload-state.ts';

/** S3's smallest part (all but the last) and its most parts per multipart upload. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export interface S3PartStoreOptions {
  client: S3Client;
  bucket: string;
  db: Db;
  /** Every part but the last has this size (some stores, e.g. R2, require equal parts). */
  partSize: number;
  expirationMs: number;
}

/**
 * A tus DataStore that writes an upload straight into the bucket as one multipart upload, with
 * its state in PostgreSQL (`s3_uploads`, s3-upload-state.ts), so any API node continues any
 * upload and an API node needs no local disk. Upload id = video id; the object is the video's
 * original key, so a finished upload is already where the video expects it.
 *
 * Only CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload,
 * PutObject, GetObject and DeleteObject are used; nothing is asked of S3 about the upload's
 * state (no ListParts, no HeadObject): the row is the truth.
 *
 * A request's bytes follow the recorded tail (streamed from the tail object) into ONE buffer of
 * a part's size: each full part is sent with UploadPart and recorded; what is left when the
 * request ends (< one part) becomes the new tail object. The last bytes of the upload complete
 * it: CompleteMultipartUpload with the final (short) part, or one PutObject when the whole upload
 * is shorter than a part (zero-length included).
 */
export class S3PartStore extends DataStore {
  readonly rows: S3UploadRows;
  readonly opts: S3PartStoreOptions;

  constructor(opts: S3PartStoreOptions) {
    super();
    if (opts.partSize < MIN_PART_BYTES) throw new Error(`S3 parts must be at least ${MIN_PART_BYTES} bytes`);
    this.opts = opts;
    this.rows = new S3UploadRows(opts.db);
    this.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration'];
  }

  override async create(upload: Upload): Promise<Upload> {
    const size = upload.size ?? 0;
    if (Math.ceil(size / this.opts.partSize) > MAX_PARTS) throw ERRORS.ERR_MAX_SIZE_EXCEEDED;
    const stale = await this.rows.create(upload.id, size, this.opts.partSize);
    if (stale) await this.abort(upload.id, stale).catch(() => {});
    if (size === 0) {
      // Complete on creation: the empty original, and no state left (getUpload reports 404, the
      // wrapper finds the stored original).
      const state = (await this.rows.load(upload.id))!;
      await this.putWhole(state, Buffer.alloc(0));
      await this.rows.delete(upload.id);
    }
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const state = await this.rows.load(id);
    if (!state) throw ERRORS.FILE_NOT_FOUND;
    return new Upload({
      id,
      size: state.size,
      offset: offsetOf(state),
      creation_date: state.createdAt.toISOString(),
    });
  }

  /** The first `bytes` bytes of an upload that has no full part yet (they are in its tail). */
  async readHead(id: string, bytes: number): Promise<Buffer> {
    const state = await this.rows.load(id);
    if (!state || state.parts.length > 0) return Buffer.alloc(0);
    const n = Math.min(bytes, state.tailSize);
    const buf = Buffer.alloc(n);
    return buf.subarray(0, await this.readTail(state, buf, n));
  }

  /** `onStored` hears each new offset S3 has acknowledged as parts complete (the caller reports the last). */
  override async write(
    readable: Readable,
    id: string,
    offset: number,
    onStored?: (offset: number) => void,
  ): Promise<number> {
    // The body may fail (a refusal, a disconnect) while the state is read: the error is seen by
    // the iteration below, never as an unhandled 'error' event.
    const ignore = () => {};
    readable.on('error', ignore);
    try {
      return await this.writeFrom(readable, id, offset, onStored);
    } finally {
      readable.off('error', ignore);
    }
  }

  private async writeFrom(
    readable: Readable,
    id: string,
    offset: number,
    onStored: ((offset: number) => void) | undefined,
  ): Promise<number> {
    const state = await this.rows.load(id);
    if (!state) throw ERRORS.FILE_NOT_FOUND;
    if (offsetOf(state) !== offset) throw ERRORS.INVALID_OFFSET;
    const w = new PartWriter(this, state, onStored);
    await w.loadTail();
    let bodyError: unknown;
    const it = readable[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await it.next();
      } catch (err) {
        bodyError = err;
        break;
      }
      if (next.done) break;
      const chunk = next.value;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      await w.push(buf);
      // Copied into the part buffer: the socket read's memory goes back now, not at the next GC.
      releaseChunk(buf);
    }
    // What arrived is kept (as parts and tail) even when the body ended early: the client resumes
    // from there.
    const newOffset = await w.end();
    w.release();
    if (bodyError !== undefined && newOffset < state.size) throw bodyError;
    return newOffset;
  }

  override async remove(id: string): Promise<void> {
    const state = await this.rows.load(id);
    if (!state) throw ERRORS.FILE_NOT_FOUND;
    await discardS3Upload(this.opts.client, this.opts.bucket, this.rows, state);
  }

  override async declareUploadLength(): Promise<void> {
    throw ERRORS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION;
  }

  override getExpiration(): number {
    return this.opts.expirationMs;
  }

  // --- S3 calls -------------------------------------------------------------------------------

  /** Reads the first `n` bytes of the tail object into `buf`; returns how many arrived. */
  async readTail(state: S3UploadState, buf: Buffer, n: number): Promise<number> {
    if (n === 0) return 0;
    let res: GetObjectCommandOutput;
    try {
      res = await this.opts.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: state.tailKey, Range: `bytes=0-${n - 1}` }),
      );
    } catch (err) {
      // Gone (deleted behind our back): the caller finds 0 of n bytes.
      if (
        err instanceof S3ServiceException &&
        (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404)
      ) {
        return 0;
      }
      throw err;
    }
    let got = 0;
    // Some servers answer a range with more than asked: take the first n bytes only.
    for await (const chunk of res.Body as Readable) {
      const c = chunk as Buffer;
      const take = Math.min(c.length, n - got);
      c.copy(buf, got, 0, take);
      got += take;
      if (got === n) break;
    }
    (res.Body as Readable).destroy();
    return got;
  }

  async putTail(state: S3UploadState, data: Buffer): Promise<void> {
    await this.opts.client.send(
      new PutObjectCommand({
        Bucket: this.opts.bucket,
        Key: state.tailKey,
        Body: data,
        ContentLength: data.length,
      }),
    );
  }

  /** The whole upload in one PutObject (shorter than one part). */
  async putWhole(state: S3UploadState, data: Buffer): Promise<void> {
    await this.opts.client.send(
      new PutObjectCommand({
        Bucket: this.opts.bucket,
        Key: state.objectKey,
        Body: data,
        ContentLength: data.length,
        // The server's verdict sets the real type at finish, never the client's.
        ContentType: 'application/octet-stream',
      }),
    );
  }

  async ensureMultipart(state: S3UploadState): Promise<string> {
    if (state.uploadId) return state.uploadId;
    const res = await this.opts.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.opts.bucket,
        Key: state.objectKey,
        ContentType: 'application/octet-stream',
      }),
    );
    const uploadId = res.UploadId!;
    // A crash right here leaves a multipart upload no row names: a bucket lifecycle rule
    // (AbortIncompleteMultipartUpload) is the backstop, see the README.
    await this.rows.setUploadId(state.videoId, uploadId);
    state.uploadId = uploadId;
    return uploadId;
  }

  async uploadPart(state: S3UploadState, n: number, data: Buffer): Promise<S3Part> {
    const uploadId = await this.ensureMultipart(state);
    const res = await this.opts.client.send(
      new UploadPartCommand({
        Bucket: this.opts.bucket,
        Key: state.objectKey,
        UploadId: uploadId,
        PartNumber: n,
        Body: data,
        ContentLength: data.length,
      }),
    );
    return { n, etag: res.ETag ?? '', size: data.length };
  }

  async complete(state: S3UploadState, parts: S3Part[]): Promise<void> {
    await this.opts.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.opts.bucket,
        Key: state.objectKey,
        UploadId: state.uploadId!,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
      }),
    );
  }

  /**
   * After S3 said the multipart upload is unknown: true when it was completed already (a crash
   * between CompleteMultipartUpload and forgetting the row), i.e. the original is whole.
   */
  async completedEarlier(state: S3UploadState): Promise<boolean> {
    // The object's size from a one-byte GetObject (Content-Range: bytes 0-0/<size>); a server that
    // ignores Range answers with the whole object and its Content-Length.
    try {
      const res = await this.opts.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: state.objectKey, Range: 'bytes=0-0' }),
      );
      (res.Body as Readable | undefined)?.destroy();
      const total = /\/(\d+)$/.exec(res.ContentRange ?? '')?.[1];
      return Number(total ?? res.ContentLength) === state.size;
    } catch {
      return false;
    }
  }

  async abort(videoId: string, uploadId: string): Promise<void> {
    await this.opts.client.send(
      new AbortMultipartUploadCommand({
        Bucket: this.opts.bucket,
        Key: keys.original(videoId),
        UploadId: uploadId,
      }),
    );
  }

  /** The upload is whole in the bucket: its tail and state go. */
  async forget(state: S3UploadState): Promise<void> {
    await discardS3Upload(this.opts.client, this.opts.bucket, this.rows, { ...state, uploadId: null });
  }
}
