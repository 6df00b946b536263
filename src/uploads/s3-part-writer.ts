import { ERRORS } from '@tus/utils';
import { releaseChunk } from './release-written.ts';
import {
  isNoSuchUpload,
  partBytes,
  type S3Part,
  type S3UploadRows,
  type S3UploadState,
} from './s3-upload-state.ts';
import { tusError } from './upload-request.ts';

/** S3's most parts per multipart upload. */
export const MAX_PARTS = 10_000;

/** The S3 calls a PartWriter makes, through S3PartStore (s3-upload-store.ts). */
export interface PartSink {
  readonly rows: S3UploadRows;
  readTail(state: S3UploadState, buf: Buffer, n: number): Promise<number>;
  putTail(state: S3UploadState, data: Buffer): Promise<void>;
  putWhole(state: S3UploadState, data: Buffer): Promise<void>;
  uploadPart(state: S3UploadState, n: number, data: Buffer): Promise<S3Part>;
  complete(state: S3UploadState, parts: S3Part[]): Promise<void>;
  completedEarlier(state: S3UploadState): Promise<boolean>;
  abort(videoId: string, uploadId: string): Promise<void>;
  forget(state: S3UploadState): Promise<void>;
}

/**
 * One request's bytes on their way into parts: ONE buffer of at most a part, refilled after each
 * UploadPart has resolved (the body waits meanwhile, by backpressure).
 */
export class PartWriter {
  private readonly store: PartSink;
  private readonly state: S3UploadState;
  private readonly buf: Buffer;
  private readonly onStored: ((offset: number) => void) | undefined;
  private filled = 0;
  /** Bytes arrived in this request (beyond the tail read back). */
  private fresh = 0;

  constructor(store: PartSink, state: S3UploadState, onStored?: (offset: number) => void) {
    this.store = store;
    this.state = state;
    this.onStored = onStored;
    this.buf = Buffer.allocUnsafe(Math.min(state.partSize, state.size - partBytes(state)));
  }

  private get recorded(): number {
    return partBytes(this.state);
  }

  async loadTail(): Promise<void> {
    const t = this.state.tailSize;
    const got = await this.store.readTail(this.state, this.buf, t);
    if (got !== t) {
      // The tail object lost bytes (deleted outside Clipdock): the upload goes back to its last
      // part, and the client, told its offset is wrong, asks HEAD and resends from there.
      await this.store.rows.setTail(this.state.videoId, 0);
      throw tusError('UPLOAD_OFFSET_CHANGED');
    }
    this.filled = t;
  }

  async push(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      const room = Math.min(this.buf.length, this.state.size - this.recorded) - this.filled;
      if (room <= 0) throw ERRORS.ERR_SIZE_EXCEEDED;
      const n = Math.min(room, chunk.length - off);
      chunk.copy(this.buf, this.filled, off, off + n);
      this.filled += n;
      this.fresh += n;
      off += n;
      // A full part that is not the upload's last: send it now. The last waits for the end.
      if (this.filled === this.state.partSize && this.recorded + this.filled < this.state.size) {
        await this.sendPart();
      }
    }
  }

  private async sendPart(): Promise<void> {
    const n = this.state.parts.length + 1;
    if (n > MAX_PARTS) throw ERRORS.ERR_MAX_SIZE_EXCEEDED;
    const part = await this.store.uploadPart(this.state, n, this.buf.subarray(0, this.filled));
    await this.store.rows.addPart(this.state.videoId, part);
    this.state.parts.push(part);
    this.state.tailSize = 0;
    this.filled = 0;
    this.onStored?.(this.recorded);
  }

  /**
   * Frees the part buffer now instead of at the next GC (8 concurrent uploads would otherwise keep
   * hundreds of MiB of dead part buffers). Only after the request's S3 calls all resolved: a failed
   * call may leave the HTTP client still holding the bytes, so that path is left to the GC.
   */
  release(): void {
    releaseChunk(this.buf);
  }

  /** Stores what is left: completes the upload when every byte is here, else writes the tail. */
  async end(): Promise<number> {
    const { state } = this;
    if (this.recorded + this.filled === state.size) {
      await this.finish();
      return state.size;
    }
    if (this.fresh > 0 && this.filled > 0) {
      // The new tail begins with the old one when no part was sent: valid whichever size is recorded.
      await this.store.putTail(state, this.buf.subarray(0, this.filled));
      await this.store.rows.setTail(state.videoId, this.filled);
      state.tailSize = this.filled;
    }
    return this.recorded + state.tailSize;
  }

  private async finish(): Promise<void> {
    const { state, store } = this;
    const data = this.buf.subarray(0, this.filled);
    if (state.parts.length === 0) {
      await store.putWhole(state, data);
      if (state.uploadId) await store.abort(state.videoId, state.uploadId).catch(() => {});
      await store.forget(state);
      return;
    }
    try {
      const last = data.length > 0 ? [await store.uploadPart(state, state.parts.length + 1, data)] : [];
      await store.complete(state, [...state.parts, ...last]);
    } catch (err) {
      if (!isNoSuchUpload(err) || !(await store.completedEarlier(state))) throw err;
    }
    await store.forget(state);
  }
}
