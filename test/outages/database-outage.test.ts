import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/types.ts';
import { signUp } from '../helpers/server.ts';
import { connectLive } from '../live/helpers.ts';
import { makeGood, makeLong } from '../media/fixtures.ts';
import { createSession, sha256, startTus, tusCreate, waitFor } from '../uploads/helpers.ts';
import { type NodeProcess, type OwnPostgres, startNodeProcess, startOwnPostgres } from './helpers.ts';

/**
 * Real database outages against a real node process (`node src/main.ts`, role all): PostgreSQL
 * stopped while a job ends, the tus lock's connection terminated during a PATCH, and a few
 * seconds without a database under traffic. No database error may end the process, and once the
 * database is back everything goes on without a restart.
 */
let pgOwn: OwnPostgres;
let node: NodeProcess;
let dbUrl: string;
let db: Kysely<Database>;
let dir: string;

beforeAll(async () => {
  pgOwn = await startOwnPostgres();
  dbUrl = await pgOwn.createDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-outage-'));
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2, connectionTimeoutMillis: 5000 });
  pool.on('error', () => {});
  db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
});

// Each test has a node process of its own, so that one that crashed does not hide the next crash.
beforeEach(async () => {
  await pgOwn.start();
  node = await startNodeProcess({
    DATABASE_URL: dbUrl,
    CLIPDOCK_DATA_DIR: path.join(dir, 'data'),
    CLIPDOCK_ROLE: 'all',
    WORKER_CONCURRENCY: '1',
    FFMPEG_THREADS: '1',
    LOG_LEVEL: 'info',
  });
});
afterEach(async () => {
  await node?.stop();
});

afterAll(async () => {
  await db?.destroy();
  await pgOwn?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const dbName = () => new URL(dbUrl).pathname.slice(1);

/** The API's answer, or the reason there was none (a refused connection: the process is gone). */
async function uploadFile(file: string, token: string, api: Parameters<typeof createSession>[0]) {
  const body = await readFile(file);
  const { files } = await createSession(api, [{ name: path.basename(file), size: body.length }]);
  const run = startTus(body, { token, file: files[0]!, retry: true });
  await run.done;
  return { videoId: files[0]!.videoId, body };
}

async function videoStatus(videoId: string) {
  const v = await db.selectFrom('videos').select('status').where('id', '=', videoId).executeTakeFirst();
  return v?.status;
}

async function waitUntilReady(videoId: string, api: Parameters<typeof createSession>[0]) {
  const v = await waitFor(async () => {
    const res = await api(`/api/videos/${videoId}`);
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { status: string; error?: unknown };
    return ['ready', 'failed'].includes(body.status) ? body : undefined;
  }, 150_000);
  expect(v, JSON.stringify(v)).toMatchObject({ status: 'ready' });
}

describe('database outages', () => {
  it('a transcode that finishes while PostgreSQL is down: the process lives, the step is not redone, the video becomes ready', {
    timeout: 240_000,
  }, async () => {
    const user = await signUp(node.url);
    const { videoId } = await uploadFile(await makeLong(dir, 6), user.token, user.api);
    await waitFor(async () => {
      const a = await db
        .selectFrom('video_analysis')
        .select('processing_step')
        .where('video_id', '=', videoId)
        .executeTakeFirst();
      return a?.processing_step === 'normalize';
    }, 120_000);
    await waitFor(async () => (await ffmpegsFor(videoId)) > 0, 60_000);
    await pgOwn.stop();
    // The transcode ends during the outage (its ffmpeg is gone), while progress writes fail.
    await waitFor(async () => (await ffmpegsFor(videoId)) === 0, 120_000);
    expect(await node.waitForLine(/run lock connection lost/, 30_000)).not.toBeNull();
    expect(node.proc.exitCode).toBeNull();

    await pgOwn.start();
    await waitUntilReady(videoId, user.api);
    const a = await db
      .selectFrom('video_analysis')
      .select('checkpoint')
      .where('video_id', '=', videoId)
      .executeTakeFirstOrThrow();
    // The finished transcode was recorded once the database was back, not started again.
    expect((a.checkpoint as { runs: Record<string, number> }).runs.normalize).toBe(1);
    // No job stays locked by the connection that died (a job another task happens to be
    // running right now, e.g. the minute's cleanup sweep, ends within the poll).
    await expect
      .poll(
        () =>
          db
            .selectFrom('graphile_worker.jobs' as never)
            .select(['id' as never, 'task_identifier' as never])
            .where('locked_at' as never, 'is not', null)
            .execute(),
        { timeout: 30_000 },
      )
      .toEqual([]);
    expect(node.proc.exitCode).toBeNull();
    expect(node.output()).not.toMatch(/nobody handled/);
  });

  it('a tus lock connection ended during a PATCH does not end the process; the upload resumes', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(node.url);
    const body = await readFile(await makeGood('h264_aac_mov', dir));
    const { files } = await createSession(user.api, [{ name: 'phone.mov', size: body.length }]);
    const created = await tusCreate(files[0]!, user.token, { length: body.length });
    expect(created.status).toBe(201);
    const uploadUrl = new URL(created.headers.get('location')!, node.url).toString();

    // A PATCH that sends a first part, then holds the upload's lock while it waits.
    let resume!: () => void;
    const held = new Promise<void>((r) => {
      resume = r;
    });
    const half = Math.floor(body.length / 2);
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new Uint8Array(body.subarray(0, half)));
        await held;
        controller.close();
      },
    });
    const patch = fetch(uploadUrl, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${user.token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: stream,
      duplex: 'half',
    } as RequestInit).then(
      (r) => r.status,
      (e: unknown) => e,
    );
    // The lock's session: an advisory lock held in our database.
    const lockHolder = `pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`;
    await waitFor(async () => (await pgCount(lockHolder)) > 0);
    expect(await pgOwn.terminate(dbName(), lockHolder)).toBeGreaterThan(0);
    const lost = await node.waitForLine(/tus lock connection (lost|error)/, 30_000);
    expect(lost, `the process ended:\n${node.output().slice(-3000)}`).not.toBeNull();
    resume();
    await patch;
    expect(node.proc.exitCode).toBeNull();

    // The client resumes from the server's offset and completes; the original is byte-identical.
    await startTus(body, { token: user.token, uploadUrl, retry: true }).done;
    const res = await user.api(`/api/videos/${files[0]!.videoId}/original`);
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
    await waitUntilReady(files[0]!.videoId, user.api);
    expect(node.proc.exitCode).toBeNull();
    expect(node.output()).not.toMatch(/nobody handled/);
  });

  it('while PostgreSQL is down: health 503, requests fail fast with DATABASE_UNAVAILABLE; after it, a full upload becomes ready', {
    timeout: 180_000,
  }, async () => {
    const user = await signUp(node.url);
    // A live socket opened before the outage hears the events after it (the listener LISTENs again).
    const live = await connectLive(node.url, user.token);
    await live.waitFor((m) => m.type === 'synced');
    await pgOwn.stop();
    const health = await fetch(`${node.url}/api/health`, { signal: AbortSignal.timeout(20_000) });
    expect(health.status).toBe(503);
    const me = await user.api('/api/me', { signal: AbortSignal.timeout(20_000) });
    expect(me.status).toBe(503);
    expect(me.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await me.json()) as { error: { code: string } }).error.code).toBe('DATABASE_UNAVAILABLE');
    const session = await user.api('/api/upload-sessions', {
      method: 'POST',
      body: JSON.stringify({ files: [{ name: 'a.mp4', size: 1000 }] }),
      signal: AbortSignal.timeout(20_000),
    });
    expect(session.status).toBe(503);
    expect(node.proc.exitCode).toBeNull();

    await pgOwn.start();
    await waitFor(async () => (await fetch(`${node.url}/api/health`)).status === 200, 60_000);
    // The event listener is back on the database.
    await waitFor(async () => (await pgCount(`application_name = 'clipdock:video-listener'`)) > 0, 60_000);
    const { videoId, body } = await uploadFile(await makeGood('h264_aac_mov', dir), user.token, user.api);
    await waitUntilReady(videoId, user.api);
    const resynced = live.messages.findIndex((m) => m.type === 'synced' && m.reason === 'resync');
    expect(resynced).toBeGreaterThan(0);
    await live.waitFor((m) => m.videoId === videoId && m.status === 'ready', { timeoutMs: 30_000 });
    live.close();
    const res = await user.api(`/api/videos/${videoId}/original`);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
    expect(await videoStatus(videoId)).toBe('ready');
    expect(node.proc.exitCode).toBeNull();
  });
});

/** ffmpeg processes working on the video (its original's path names it). */
async function ffmpegsFor(videoId: string): Promise<number> {
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'args']);
  return stdout.split('\n').filter((l) => l.includes('ffmpeg') && l.includes(videoId)).length;
}

async function pgCount(where: string): Promise<number> {
  const c = new pg.Client({ connectionString: pgOwn.adminUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND (${where})`,
      [dbName()],
    );
    return Number(r.rows[0]!.n);
  } finally {
    await c.end();
  }
}
