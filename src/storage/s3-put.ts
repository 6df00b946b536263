import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/** Writing one object to S3: one PUT for a buffer, a multipart upload for a long stream. */

/** Where a put goes. */
export interface PutTarget {
  client: S3Client;
  bucket: string;
  key: string;
  contentType: string | undefined;
}

/**
 * Streamed bodies go up in parts of this size (S3's minimum), through ONE reused buffer: a part is
 * uploaded, then the buffer is refilled, so a multi-gigabyte body costs 5 MiB of memory per put.
 * Reading the next part from a local stream takes milliseconds against the upload's round trip,
 * so overlapping them would buy little and double the memory.
 * (lib-storage's Upload is not used: its chunker keeps each concatenated part alive through the
 * slice of its remainder, about three parts per upload even at queue size 1.)
 */
const PART_SIZE = 5 * 1024 * 1024;

/** One PutObject. */
export async function putBuffer(target: PutTarget, body: Buffer): Promise<void> {
  const { client, bucket, key, contentType } = target;
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      ContentType: contentType,
    }),
  );
}

/**
 * A body that fits in one part is sent with one PUT; a longer one as a multipart upload. On
 * failure the multipart upload is aborted, so no orphaned parts are kept (and billed); nothing
 * becomes visible under `key` until Complete succeeds.
 */
export async function putStream(target: PutTarget, body: Readable): Promise<void> {
  const { client, bucket, key, contentType } = target;
  // Invariant: `part` is only refilled after the UploadPart that sent it has resolved, i.e.
  // after the server has received every byte (SDK retries happen inside that send).
  const part = Buffer.allocUnsafe(PART_SIZE);
  let filled = 0;
  let uploadId: string | undefined;
  const parts: CompletedPart[] = [];
  const sendPart = async (data: Buffer): Promise<void> => {
    if (!uploadId) {
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
      );
      uploadId = created.UploadId;
    }
    const PartNumber = parts.length + 1;
    const res = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber,
        Body: data,
        ContentLength: data.length,
      }),
    );
    parts.push({ PartNumber, ETag: res.ETag });
  };
  try {
    for await (const raw of body) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      for (let off = 0; off < chunk.length; ) {
        const n = Math.min(chunk.length - off, PART_SIZE - filled);
        chunk.copy(part, filled, off, off + n);
        filled += n;
        off += n;
        if (filled === PART_SIZE) {
          await sendPart(part);
          filled = 0;
        }
      }
    }
    if (parts.length === 0) {
      await putBuffer(target, part.subarray(0, filled));
      return;
    }
    if (filled > 0) await sendPart(part.subarray(0, filled));
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (err) {
    body.destroy();
    if (uploadId) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => {});
    }
    throw err;
  }
}
