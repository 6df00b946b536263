import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3UploadRows } from '../../src/uploads/s3-upload-state.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { s3Env, startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { signUp } from '../helpers/server.ts';
import { createSession, fakeMp4, sha256, startTus } from './helpers.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const nodeBin = path.join(repo, 'node_modules/.bin/node');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts `node src/main.ts` as its own process and resolves with its URL once it is ready. */
function startNode(env: Record<string, string>, onChild: (c: ChildProcess) => void): Promise<string> {
  const proc = spawn(nodeBin, ['src/main.ts'], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onChild(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`node did not start:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /Clipdock is ready: (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited (${code}) before it was ready:\n${out}`));
    });
  });
}

function kill9(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

function crashSuite(storage: 'fs' | 's3'): void {
  describe(`crash safety (${storage === 's3' ? 'S3, straight into the bucket' : 'local disk'})`, () => {
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let dataDir: string;
    let env: Record<string, string>;
    let child: ChildProcess | undefined;
    let s3: TestS3 | undefined;

    beforeAll(async () => {
      database = await createTestDatabase();
      s3 = storage === 's3' ? await startS3rver() : undefined;
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-crash-'));
      env = {
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
        CLIPDOCK_DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        // API only, so the processing jobs of finished uploads stay queued where the test counts them.
        CLIPDOCK_ROLE: 'api',
        LOG_LEVEL: 'warn',
        ...(s3
          ? {
              ...s3Env(s3.config),
              S3_UPLOAD_PART_MIB: '5',
            }
          : {}),
      };
    });
    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await database?.drop();
      await s3?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('resumes uploads byte-identical after SIGKILL of the server, with no duplicate rows', async () => {
      let url = await startNode(env, (c) => {
        child = c;
      });
      const u = await signUp(url);
      const bodies = [fakeMp4(24 * 1024 * 1024 + 1), fakeMp4(20 * 1024 * 1024 + 333)];
      const { sessionId, files } = await createSession(
        u.api,
        bodies.map((b, i) => ({ name: `clip${i}.mp4`, size: b.length })),
      );

      const runs = files.map((file, i) =>
        startTus(bodies[i]!, { token: u.token, file, chunkSize: 2 * 1024 * 1024 }),
      );
      await Promise.all(runs.map((r) => r.reached(6 * 1024 * 1024)));
      await kill9(child!);
      const errors = await Promise.all(
        runs.map((r) =>
          r.done.then(
            () => undefined,
            (e: unknown) => e,
          ),
        ),
      );
      expect(errors.every((e) => e !== undefined)).toBe(true);

      url = await startNode(env, (c) => {
        child = c;
      });
      const uploadUrls = runs.map((r) => new URL(new URL(r.upload.url!).pathname, url).toString());
      await Promise.all(
        uploadUrls.map(
          (uploadUrl, i) => startTus(bodies[i]!, { token: u.token, uploadUrl, retry: true }).done,
        ),
      );

      for (const [i, file] of files.entries()) {
        const res = await u.api(`/api/videos/${file.videoId}/original`);
        expect(res.status).toBe(200);
        expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(bodies[i]!));
      }
      const db = database.db;
      const videos = await db
        .selectFrom('videos')
        .select(['id', 'status'])
        .where('session_id', '=', sessionId)
        .execute();
      expect(videos.map((v) => v.status).sort()).toEqual(['uploaded', 'uploaded']);
      expect(
        await db.selectFrom('videos').select('id').where('user_id', '=', u.user.id).execute(),
      ).toHaveLength(2);
      const metrics = await db
        .selectFrom('upload_metrics')
        .select('video_id')
        .where('user_id', '=', u.user.id)
        .execute();
      expect(metrics).toHaveLength(2);
      const reservations = await db
        .selectFrom('credit_reservations')
        .select('video_id')
        .where('user_id', '=', u.user.id)
        .execute();
      expect(reservations).toHaveLength(2);
      const jobs = await sql<{ key: string }>`
      SELECT key FROM graphile_worker._private_jobs WHERE key LIKE 'process_video:%'`.execute(db);
      expect(jobs.rows.map((r) => r.key).sort()).toEqual(
        files.map((f) => `process_video:${f.videoId}`).sort(),
      );
      if (s3) {
        // Every multipart upload completed, no state left behind.
        expect(await s3.openMultipartUploads()).toEqual([]);
        for (const file of files) expect(await new S3UploadRows(db).load(file.videoId)).toBeUndefined();
      }
    });
  });
}

crashSuite('fs');
crashSuite('s3');
