import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  type _Object,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from '../config.ts';
import {
  assertValidKey,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type SignedResponse,
  StorageNotFoundError,
} from './object-store.ts';
import { putBuffer, putStream } from './s3-put.ts';
import {
  exactRange,
  isNotFound,
  isServerFault,
  isUnsupported,
  mapNotFound,
  normalizeContentType,
} from './s3-responses.ts';

export type S3StoreConfig = Extract<Config['storage'], { driver: 's3' }>;

/** S3's limit per DeleteObjects request. */
const DELETE_BATCH = 1000;
const DEFAULT_URL_SECONDS = 3600;
/** The largest object one CopyObject may copy (S3's limit). */
const MAX_SINGLE_COPY = 5 * 1024 ** 3;

/**
 * Objects in an S3-compatible bucket (AWS, MinIO, R2, Ceph, s3rver in tests).
 * Every write is atomic by S3's own semantics: a PUT or a completed multipart upload becomes
 * visible whole, or not at all.
 */
export class S3ObjectStore implements ObjectStore {
  readonly driver = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;
  /** Flips to false the first time the server rejects DeleteObjects; single deletes from then on. */
  batchDeleteSupported = true;
  /** Flips to false the first time a ListObjectsV2 page fails on the server's side; V1 from then on. */
  listV2Supported = true;
  private readonly pageSize: number;
  private readonly deleteBatch: number;

  /** `tuning` exists for tests, to cross page and batch boundaries with a few keys. */
  constructor(cfg: S3StoreConfig, tuning: { pageSize?: number; deleteBatch?: number } = {}) {
    this.bucket = cfg.bucket;
    this.pageSize = tuning.pageSize ?? 1000;
    this.deleteBatch = tuning.deleteBatch ?? DELETE_BATCH;
    this.client = new S3Client({
      region: cfg.region,
      endpoint: cfg.endpoint,
      forcePathStyle: cfg.forcePathStyle,
      credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
      // The SDK's default CRC32 trailers (aws-chunked bodies) are not understood by many
      // S3-compatible servers; checksums are sent only where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<ObjectInfo> {
    assertValidKey(key);
    const target = { client: this.client, bucket: this.bucket, key, contentType: opts?.contentType };
    if (Buffer.isBuffer(body)) await putBuffer(target, body);
    else await putStream(target, body);
    return this.headOrThrow(key);
  }

  async putFile(key: string, filePath: string, opts?: PutOptions): Promise<ObjectInfo> {
    assertValidKey(key);
    return this.put(key, createReadStream(filePath, { highWaterMark: 1024 * 1024 }), opts);
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      if (!res.Body) throw new StorageNotFoundError(key);
      const body =
        res.Body instanceof Readable
          ? res.Body
          : Readable.fromWeb(res.Body.transformToWebStream() as WebReadableStream);
      return range ? exactRange(body, range, res.ContentRange) : body;
    } catch (err) {
      throw mapNotFound(err, key);
    }
  }

  /**
   * A copy of the object onto itself with the new type (S3 has no other way to change it). Past
   * 5 GiB one copy is not allowed; such an object keeps the type it was created with, which for
   * uploads is application/octet-stream (set by upload-store.ts, never the client's).
   */
  async setContentType(key: string, contentType: string): Promise<void> {
    const info = await this.head(key);
    if (!info) throw new StorageNotFoundError(key);
    if (info.contentType === contentType || info.size > MAX_SINGLE_COPY) return;
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        ContentType: contentType,
      }),
    );
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertValidKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: res.ContentLength ?? 0,
        contentType: normalizeContentType(res.ContentType),
        lastModified: res.LastModified ?? new Date(0),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      // S3 answers 204 for an absent key; some compatible servers answer 404.
      if (!isNotFound(err)) throw err;
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const keys = (await this.list(prefix)).map((o) => o.key);
    for (let i = 0; i < keys.length; i += this.deleteBatch) {
      const batch = keys.slice(i, i + this.deleteBatch);
      if (this.batchDeleteSupported) {
        try {
          const res = await this.client.send(
            new DeleteObjectsCommand({
              Bucket: this.bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
          );
          const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
          if (failed.length > 0) {
            throw new Error(
              `S3 refused to delete ${failed.length} object(s) under "${prefix}": ${failed[0]?.Code} ${failed[0]?.Message}`,
            );
          }
          continue;
        } catch (err) {
          if (!isUnsupported(err)) throw err;
          this.batchDeleteSupported = false;
        }
      }
      for (const key of batch) await this.delete(key);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    let after: string | undefined;
    for (;;) {
      const page = await this.listPage(prefix, token, after);
      for (const o of page.objects) {
        if (!o.Key) continue;
        out.push({
          key: o.Key,
          size: o.Size ?? 0,
          // Listings carry no content types; callers needing one use head().
          contentType: undefined,
          lastModified: o.LastModified ?? new Date(0),
        });
      }
      if (!page.truncated) break;
      token = page.nextToken;
      after = out.at(-1)?.key;
    }
    // S3 lists in UTF-8 binary order already; sorting keeps the contract on servers that don't.
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * One page of a listing: ListObjectsV2 with its continuation token, or, once a server has
   * failed a V2 listing, ListObjects (V1) continuing after the last key seen. s3rver is such a
   * server: it encrypts V2 continuation tokens with DES, which OpenSSL 3 no longer offers, so
   * every truncated V2 listing fails there with a 500. Both forms list the same keys in order.
   */
  private async listPage(
    prefix: string,
    token: string | undefined,
    after: string | undefined,
  ): Promise<{ objects: _Object[]; truncated: boolean; nextToken: string | undefined }> {
    if (this.listV2Supported) {
      try {
        const res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
            StartAfter: token ? undefined : after,
            MaxKeys: this.pageSize,
          }),
        );
        return {
          objects: res.Contents ?? [],
          truncated: !!res.IsTruncated,
          nextToken: res.NextContinuationToken,
        };
      } catch (err) {
        if (!isUnsupported(err) && !isServerFault(err)) throw err;
        this.listV2Supported = false;
      }
    }
    const res = await this.client.send(
      new ListObjectsCommand({ Bucket: this.bucket, Prefix: prefix, Marker: after, MaxKeys: this.pageSize }),
    );
    return { objects: res.Contents ?? [], truncated: !!res.IsTruncated, nextToken: undefined };
  }

  /** ffprobe/ffmpeg read the object over HTTP through a presigned GET (they issue Range requests). */
  async localPathOrUrl(key: string, expiresInSeconds = DEFAULT_URL_SECONDS): Promise<string> {
    if (!(await this.head(key))) throw new StorageNotFoundError(key);
    return this.presignGet(key, expiresInSeconds);
  }

  async signedUrl(
    key: string,
    expiresInSeconds: number,
    response?: SignedResponse,
  ): Promise<string | undefined> {
    assertValidKey(key);
    return this.presignGet(key, expiresInSeconds, response);
  }

  /** The overrides are part of the signature: the holder of the URL cannot change them. */
  private presignGet(key: string, expiresIn: number, response?: SignedResponse): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ...(response
        ? {
            ResponseContentType: response.contentType,
            ResponseContentDisposition: response.contentDisposition,
          }
        : {}),
    });
    return getSignedUrl(this.client, command, { expiresIn });
  }

  private async headOrThrow(key: string): Promise<ObjectInfo> {
    const info = await this.head(key);
    if (!info) throw new Error(`S3 accepted "${key}" but HEAD cannot see it`);
    return info;
  }
}
