import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import type { DataStore } from '@tus/utils';
import type { AppContext } from '../context.ts';
import type { VideoRow } from '../db/types.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/unavailable.ts';
import { isStorageFull } from '../storage/full.ts';
import { handleNode, streamNodeBodies } from './node-body.ts';
import { BUSY_RETRY_AFTER_SECONDS, PgLocker } from './pg-locker.ts';
import { releasingFs } from './release-written.ts';
import { s3Target } from './s3-upload-state.ts';
import { S3PartStore } from './s3-upload-store.ts';
import { ClipdockUploadStore, finishOrRefuse, tusError, uploadRequest } from './upload-store.ts';

/** Where the tus endpoint is mounted; upload URLs are `<origin>/api/uploads/<videoId>`. */
export const TUS_PATH = '/api/uploads';

/** How much of a request body may wait in memory for the disk, per request. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

export interface TusService {
  /** Serves one tus request. `video` is the caller's video, from the route's ownership check. */
  handle(req: IncomingMessage, res: ServerResponse, video: VideoRow | undefined): Promise<void>;
  stop(): Promise<void>;
}

function innerStore(ctx: AppContext): {
  store: DataStore;
  innerId: (videoId: string) => string;
  readHead?: (innerId: string, bytes: number) => Promise<Buffer>;
  storedBytes?: (innerId: string) => Promise<number | undefined>;
  openWrite?: (innerId: string, offset: number) => Writable;
} {
  const { config } = ctx;
  const expirationPeriodInMilliseconds = config.limits.uploadExpiryHours * 3600 * 1000;
  if (config.storage.driver === 'fs') {
    const directory = config.uploadsDir;
    return {
      store: new FileStore({ directory, expirationPeriodInMilliseconds }),
      innerId: (videoId) => videoId,
      // Same file and flags as FileStore.write, minus its extra counting stream. The default 16 KiB
      // highWaterMark makes every 64 KiB socket chunk wait for its own write to finish before the
      // next is read; with 1 MiB, chunks that arrive during a write are written together (writev)
      // while reading goes on (one PATCH: ~0.7× → ~1.0× the bare pipeline sink, bench/RESULTS.md).
      // Written chunks give their memory back at once (release-written.ts): only the request
      // body's own chunks reach this stream, and nothing reads them once they are on disk.
      openWrite: (innerId, offset) =>
        createWriteStream(path.join(directory, innerId), {
          flags: 'r+',
          start: offset,
          highWaterMark: WRITE_BUFFER_BYTES,
          fs: releasingFs,
        }),
      async storedBytes(innerId) {
        const st = await stat(path.join(directory, innerId)).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        return st?.isFile() ? st.size : undefined;
      },
      async readHead(innerId, bytes) {
        const fh = await open(path.join(directory, innerId), 'r');
        try {
          const buf = Buffer.alloc(bytes);
          const { bytesRead } = await fh.read(buf, 0, bytes, 0);
          return buf.subarray(0, bytesRead);
        } finally {
          await fh.close();
        }
      },
    };
  }
  // Straight into the bucket, state in PostgreSQL: no local disk on API nodes (s3-upload-store.ts).
  const target = s3Target(config, ctx.store);
  if (!target || config.storage.driver !== 's3')
    throw new Error('STORAGE_DRIVER=s3 needs the S3 object store');
  const store = new S3PartStore({
    ...target,
    db: ctx.db,
    partSize: config.storage.uploadPartBytes ?? 8 * 1024 * 1024,
    expirationMs: expirationPeriodInMilliseconds,
  });
  return {
    store,
    innerId: (videoId) => videoId,
    readHead: (innerId, bytes) => store.readHead(innerId, bytes),
  };
}

export async function createTusService(ctx: AppContext): Promise<TusService> {
  const { config } = ctx;
  const inner = innerStore(ctx);
  const datastore = new ClipdockUploadStore(inner.store, {
    ctx,
    innerId: inner.innerId,
    ...(inner.readHead ? { readHead: inner.readHead } : {}),
    ...(inner.openWrite ? { openWrite: inner.openWrite } : {}),
    ...(inner.storedBytes ? { storedBytes: inner.storedBytes } : {}),
  });
  const locker = new PgLocker({
    databaseUrl: ctx.databaseUrl,
    log: ctx.log,
    maxConnections: config.connections.lockPoolSize,
    // Refused (503) well before the idle timeout would close the silent waiting socket instead.
    poolTimeoutMs: Math.min(5_000, (config.connections.bodyIdleTimeoutSeconds * 1000) / 2),
  });
  await locker.start();
  const origin = config.publicUrl?.replace(/\/+$/, '');

  const server = new Server({
    path: TUS_PATH,
    datastore,
    locker,
    maxSize: config.limits.maxFileBytes,
    respectForwardedHeaders: true,
    generateUrl: (_req, { proto, host, path: p, id }) => `${origin ?? `${proto}://${host}`}${p}/${id}`,
    // The route checked metadata.videoId (a uuid of the caller's video) before tus saw the request.
    namingFunction: (_req, metadata) => {
      const id = metadata?.videoId;
      if (!id) throw tusError('UPLOAD_METADATA_MISSING');
      return id;
    },
    onUploadFinish: async (_req, upload) => {
      await finishOrRefuse(ctx, upload.id);
      return {};
    },
    onResponseError: (req, err) => {
      const nodeRes = (req as { runtime?: { node?: { res?: ServerResponse } } }).runtime?.node?.res;
      if ('status_code' in err) {
        if (err.body.startsWith('{')) nodeRes?.setHeader('content-type', 'application/json; charset=utf-8');
        if (err.status_code === 503 && !nodeRes?.hasHeader('retry-after')) {
          nodeRes?.setHeader('retry-after', String(BUSY_RETRY_AFTER_SECONDS));
        }
        return undefined;
      }
      nodeRes?.setHeader('content-type', 'application/json; charset=utf-8');
      if (isStorageFull(err)) {
        ctx.log.error({ err }, 'tus request failed: storage full');
        return tusError('STORAGE_FULL');
      }
      if (isDatabaseUnavailable(err)) {
        ctx.log.warn({ err }, 'tus request failed: database unavailable');
        nodeRes?.setHeader('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
        return tusError('DATABASE_UNAVAILABLE');
      }
      ctx.log.error({ err }, 'tus request failed');
      return tusError('INTERNAL');
    },
  });

  streamNodeBodies(server);

  return {
    handle(req, res, video) {
      return video
        ? uploadRequest.run({ video, patch: req.method === 'PATCH' }, () => handleNode(server, req, res))
        : handleNode(server, req, res);
    },
    async stop() {
      await datastore.progress.close();
      await locker.stop();
    },
  };
}
