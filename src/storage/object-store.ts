import type { Readable } from 'node:stream';

/**
 * The one port for stored bytes: originals, converted videos, posters, storyboards.
 * Keys are slash-separated relative paths ("videos/<id>/original"); implementations map them
 * to files or objects. Every implementation passes `test/storage/object-store.contract.ts`.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  contentType: string | undefined;
  lastModified: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface PutOptions {
  contentType?: string;
  /** Known length; lets S3 use a single PUT for small bodies. */
  size?: number;
}

export interface ObjectStore {
  readonly driver: 'fs' | 's3';
  /** Writes the whole stream under `key`, atomically: readers never see a half-written object. */
  put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<ObjectInfo>;
  /** Stores a file from local disk (worker outputs); may move instead of copy where cheap. */
  putFile(key: string, filePath: string, opts?: PutOptions): Promise<ObjectInfo>;
  /**
   * Sets the stored type of an existing object (the server's verdict on an upload, never the
   * client's). Where a store cannot do it in place for this size, the object keeps its type.
   */
  setContentType(key: string, contentType: string): Promise<void>;
  /** Streams the object, or one byte range of it. Throws StorageNotFoundError when absent. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Size and type, or undefined when absent. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Deletes; deleting an absent key is not an error (idempotent). */
  delete(key: string): Promise<void>;
  /** Deletes every key under the prefix. */
  deletePrefix(prefix: string): Promise<void>;
  /** Every key under the prefix, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * A path on local disk that tools such as ffprobe can open, when the store is on disk;
   * otherwise a short-lived signed URL they can read over HTTP.
   */
  localPathOrUrl(key: string, expiresInSeconds?: number): Promise<string>;
  /**
   * A signed URL the owner's browser can fetch directly, or undefined when the API must serve it.
   * `response` sets the type and disposition the object is served with, whatever is stored on it.
   */
  signedUrl(key: string, expiresInSeconds: number, response?: SignedResponse): Promise<string | undefined>;
}

/** Response headers a signed URL forces (S3's response-content-type/-disposition overrides). */
export interface SignedResponse {
  contentType: string;
  contentDisposition: string;
}

export class StorageNotFoundError extends Error {
  override name = 'StorageNotFoundError';
  readonly key: string;
  constructor(key: string) {
    super(`No stored object at "${key}"`);
    this.key = key;
  }
}

/** Rejects keys that could escape the store's root or confuse S3. */
export function assertValidKey(key: string): void {
  if (
    key.length === 0 ||
    key.length > 900 ||
    key.startsWith('/') ||
    key.split('/').some((p) => p === '' || p === '.' || p === '..') ||
    /[\0\\]/.test(key)
  ) {
    throw new Error(`Invalid storage key: ${JSON.stringify(key)}`);
  }
}

/** Where each kind of object lives. One place, so cleanup can delete a video's prefix. */
export const keys = {
  videoPrefix: (videoId: string) => `videos/${videoId}/`,
  original: (videoId: string) => `videos/${videoId}/original`,
  output: (videoId: string, name: string) => `videos/${videoId}/${name}`,
};
