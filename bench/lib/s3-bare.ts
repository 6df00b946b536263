import { createReadStream } from 'node:fs';
import http from 'node:http';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3StoreConfig } from '../../src/storage/s3-store.ts';

/**
 * The baseline of the S3 upload bench: a bare multipart upload of a file straight to the bucket
 * with @aws-sdk/client-s3 (CreateMultipartUpload, UploadPart one part after another streamed from
 * disk, CompleteMultipartUpload), configured as Clipdock's S3 store is (no CRC32 trailers).
 */
export function bareS3Client(cfg: S3StoreConfig): S3Client {
  return new S3Client({
    region: cfg.region,
    endpoint: cfg.endpoint,
    forcePathStyle: cfg.forcePathStyle,
    credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }) },
  });
}

export async function bareMultipartUpload(
  client: S3Client,
  bucket: string,
  key: string,
  file: string,
  size: number,
  partSize: number,
): Promise<void> {
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error('CreateMultipartUpload returned no upload id');
  const parts: Array<{ PartNumber: number; ETag: string }> = [];
  for (let start = 0, n = 1; start < size; start += partSize, n++) {
    const end = Math.min(size, start + partSize);
    const res = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: n,
        ContentLength: end - start,
        Body: createReadStream(file, { start, end: end - 1, highWaterMark: 1024 * 1024 }),
      }),
    );
    if (!res.ETag) throw new Error(`UploadPart ${n} returned no ETag`);
    parts.push({ PartNumber: n, ETag: res.ETag });
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
}

/** Deletes every object in the bucket (between runs, so the disk under s3rver does not fill). */
export async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
    const keys = (list.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length === 0) return;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
}
