import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import type { S3StoreConfig } from '../../src/storage/s3-store.ts';

const require = createRequire(import.meta.url);
const S3Error = require('s3rver/lib/models/error.js') as new (code: string, message: string) => Error;

const MIN_PART = 5 * 1024 * 1024;

export interface TestS3 {
  config: S3StoreConfig;
  /** Ids of the multipart uploads begun and neither completed nor aborted. */
  openMultipartUploads(): Promise<string[]>;
  /** While true, every write (PUT, POST) is refused as a full MinIO refuses it (507). */
  full: boolean;
  /** Stops answering (connections refused) until restart(), keeping every stored byte. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same files. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  type: string;
  body: unknown;
}

/**
 * An in-process s3rver on loopback (port 0) keeping its files in a temp dir. Tests can make it
 * refuse writes as full (`full = true`) or stop answering and come back (`stop`, `restart`).
 *
 * s3rver 3.7 implements CreateMultipartUpload, UploadPart and CompleteMultipartUpload but not
 * AbortMultipartUpload (405), and takes parts for upload ids it never issued. A small middleware
 * in front of its router makes it behave like S3 for the calls Clipdock's upload store uses:
 * AbortMultipartUpload removes the upload, UploadPart/Complete of an unknown (aborted,
 * completed) upload id is NoSuchUpload, and Complete refuses parts smaller than 5 MiB (but the
 * last) or of unequal sizes (as R2 does) with EntityTooSmall / InvalidPart.
 */
export async function startS3rver(): Promise<TestS3> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-s3rver-'));
  const bucket = 'clipdock-test';
  const uploadsDir = path.join(dir, bucket, '._S3rver_uploads');
  const state = { full: false };
  const multipart = async (ctx: KoaContext, next: () => Promise<void>) => {
    if (state.full && (ctx.method === 'PUT' || ctx.method === 'POST')) {
      ctx.status = 507;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>XMinioStorageFull</Code><Message>Storage backend has reached its minimum free drive threshold.</Message></Error>';
      return;
    }
    const uploadId = ctx.query.uploadId;
    if (uploadId === undefined || !/^\/[^/]+\/.+/.test(ctx.path)) return next();
    const upload = path.join(uploadsDir, path.basename(uploadId));
    const known = (await stat(upload).catch(() => undefined))?.isDirectory() ?? false;
    if (!known) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
    if (ctx.method === 'DELETE') {
      await rm(upload, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = '';
      return;
    }
    if (ctx.method === 'POST') {
      const sizes: number[] = [];
      const numbers = (await readdir(upload)).filter((n) => /^\d+$/.test(n)).map(Number);
      for (const n of numbers.sort((a, b) => a - b))
        sizes.push((await stat(path.join(upload, String(n)))).size);
      const early = sizes.slice(0, -1);
      if (early.some((s) => s < MIN_PART)) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.');
      }
      if (early.some((s) => s !== early[0])) {
        throw new S3Error('InvalidPart', 'All non-trailing parts must have the same length.');
      }
    }
    return next();
  };
  let port = 0;
  const listen = async () => {
    const server = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    // Koa composes its middleware when it starts listening: in front of the router (the last one).
    const koa = server as unknown as { middleware: unknown[] };
    koa.middleware.splice(koa.middleware.length - 1, 0, multipart);
    // run() resolves with the listening socket's address, so port 0 works.
    port = (await server.run()).port;
    return server;
  };
  let server: S3rver | undefined = await listen();
  return {
    config: {
      driver: 's3',
      bucket,
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    },
    async openMultipartUploads() {
      return readdir(uploadsDir).catch(() => [] as string[]);
    },
    get full() {
      return state.full;
    },
    set full(v: boolean) {
      state.full = v;
    },
    async stop() {
      await server?.close();
      server = undefined;
    },
    async restart() {
      server ??= await listen();
    },
    async close() {
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The environment a Clipdock node needs to store in this bucket (`STORAGE_DRIVER=s3`). */
export function s3Env(c: S3StoreConfig): Record<string, string> {
  return {
    STORAGE_DRIVER: 's3',
    S3_ENDPOINT: c.endpoint!,
    S3_BUCKET: c.bucket,
    S3_REGION: c.region,
    S3_ACCESS_KEY_ID: c.accessKeyId,
    S3_SECRET_ACCESS_KEY: c.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
  };
}
